"""Public URL prefixes (SPEC section 3). Kept apart so domain routers can declare full paths."""

MOUNT_PATH = "/stripe/fastapi"
API_PREFIX = "/api/v1/stripe"
