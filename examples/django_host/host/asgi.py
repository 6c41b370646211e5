"""The platform's ASGI application: `uvicorn host.asgi:application`.

/stripe/fastapi/... is Estuary Checkout, everything else Django (host/dispatch.py).
"""

from host.application import build_application

application = build_application()
