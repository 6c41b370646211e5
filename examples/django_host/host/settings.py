"""Settings of the example host platform. Everything a deployment changes comes from the
environment; the defaults suit a developer running it next to the checkout's dev stack.

The checkout JWT settings reuse the service's own variable names (CHECKOUT_JWT_*): the host signs
what the service verifies, and when the service is embedded in this process one set of variables
configures both sides. The host's own settings are prefixed HOST_.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or ("django-insecure-dev-only" if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is not 1")
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
# origins (scheme://host[:port]) other than this site's own that may send cookie-authenticated
# unsafe requests, to Django and to the checkout alike
CSRF_TRUSTED_ORIGINS = _env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "marketplace",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "host.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
ASGI_APPLICATION = "host.asgi.application"

DATABASE_PATH = Path(os.environ.get("HOST_DATABASE_PATH", BASE_DIR / "var" / "host.sqlite3"))
DATABASE_PATH.parent.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATABASE_PATH}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- Estuary Checkout --------------------------------------------------------------------------

# where the checkout app lives inside this ASGI application (SPEC 3); host/asgi.py routes it
CHECKOUT_PREFIX = "/stripe/fastapi"
# the service as the management commands reach it: this host when it embeds the service, or the
# dev stack's standalone API (`make run`, port 8000)
CHECKOUT_BASE_URL = os.environ.get("HOST_CHECKOUT_BASE_URL", "http://127.0.0.1:8000")

# checkout tokens the host mints for its users (host/checkout_tokens.py); the service verifies
# them with the same algorithm, audience and key (its CHECKOUT_JWT_ALGORITHM and
# CHECKOUT_JWT_SECRET or CHECKOUT_JWT_PUBLIC_KEY)
CHECKOUT_JWT_ALGORITHM = os.environ.get("CHECKOUT_JWT_ALGORITHM", "HS256")
CHECKOUT_JWT_SECRET = os.environ.get("CHECKOUT_JWT_SECRET")  # HS256: the shared secret
CHECKOUT_JWT_PRIVATE_KEY = os.environ.get("CHECKOUT_JWT_PRIVATE_KEY")  # RS256: PEM, stays here
CHECKOUT_JWT_AUDIENCE = os.environ.get("CHECKOUT_JWT_AUDIENCE", "estuary-checkout")
CHECKOUT_JWT_ISSUER = os.environ.get("CHECKOUT_JWT_ISSUER") or None
CHECKOUT_TOKEN_TTL_SECONDS = int(os.environ.get("HOST_CHECKOUT_TOKEN_TTL_SECONDS", "300"))
# the identity push_catalog acts as at the checkout's admin API
CHECKOUT_CATALOG_SYNC_SUB = os.environ.get("HOST_CATALOG_SYNC_SUB", "django-host|catalog-sync")

# requests to the checkout prefix that carry the Django session cookie and no bearer token are
# signed in as the session's user (unsafe methods need the CSRF token and a trusted Origin)
CHECKOUT_ACCEPT_SESSION_COOKIE = os.environ.get("HOST_CHECKOUT_ACCEPT_SESSION_COOKIE", "1") == "1"

# the whsec_ secret of this host's outbound-event endpoint at the checkout (SPEC 12.1), returned
# once by POST /admin/webhook-endpoints
CHECKOUT_EVENTS_SECRET = os.environ.get("HOST_CHECKOUT_EVENTS_SECRET")
