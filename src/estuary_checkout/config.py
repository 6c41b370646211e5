"""Settings: one object, read from CHECKOUT_* environment variables and `.env`."""

from __future__ import annotations

import gc
import os
import secrets
import sys
import tomllib
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me"
DEV_STRIPE_SECRET_KEY = "sk_test_emulator"
DEV_STRIPE_PUBLISHABLE_KEY = "pk_test_emulator"
DEV_WEBHOOK_SECRET = "whsec_dev_emulator_secret"
PROJECT_NAME = "estuary-checkout"
PACKAGE_DIR = Path(__file__).resolve().parent


def project_root(package_dir: Path | None = None) -> Path | None:
    """The checkout this package is imported from (src/estuary_checkout/ under a pyproject.toml
    naming this project, as in an editable install), or None for an installed copy."""
    root = (package_dir or PACKAGE_DIR).parent.parent
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return root if project.get("name") == PROJECT_NAME else None


def user_state_dir() -> Path:
    """Per-user state folder when not running from a checkout: $XDG_STATE_HOME/estuary-checkout,
    else ~/.local/state/estuary-checkout (%LOCALAPPDATA%\\estuary-checkout on Windows)."""
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return (Path(local) if local else Path.home() / "AppData" / "Local") / PROJECT_NAME
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / PROJECT_NAME


def default_var_dir(package_dir: Path | None = None) -> Path:
    """`var/` of the checkout the code runs from, else the per-user state folder; never the cwd."""
    root = project_root(package_dir)
    return root / "var" if root is not None else user_state_dir()


# Cyclic garbage collection thresholds for a serving process (Python's default is 700, 10, 10).
GC_THRESHOLDS = (20_000, 50, 50)


def tune_gc() -> None:
    """Garbage-collector settings for a long-running server process, applied after startup.

    Everything built at startup (modules, ORM mappers, routes, schemas) lives as long as the
    process, and a request allocates thousands of container objects: with the defaults, a young
    collection ran every 700 allocations and full ones walked the whole startup heap. Frozen
    startup objects are never scanned again, and young collections run every 20,000 allocations
    (memory is still freed by reference counting at once; only cycles wait a little longer).
    Measured under load: CPU per price quote from ~2.3 ms to ~1.3 ms.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHECKOUT_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    var_dir: Path = Field(
        default_factory=default_var_dir,
        description="dev state (jwt_secret, checkout.db, temporal.db); default: var/ of the checkout "
        "the code runs from, else ~/.local/state/estuary-checkout (see default_var_dir)",
    )
    database_url: str = Field(
        default="", description="SQLAlchemy async URL; default: the SQLite file checkout.db in var_dir"
    )
    db_pool_size: int = Field(default=20, ge=1, description="connections kept open per process (PostgreSQL)")
    db_max_overflow: int = Field(
        default=0,
        ge=0,
        description="extra connections opened beyond the pool under load (each is closed on return)",
    )
    db_pool_pre_ping: bool = Field(default=False, description="test each pooled connection before use")
    gc_tune: bool = Field(
        default=True,
        description="after startup: gc.freeze() and a young-generation threshold of "
        f"{GC_THRESHOLDS[0]:,} (see tune_gc)",
    )

    jwt_secret: str | None = None
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_public_key: str | None = None
    jwt_private_key: str | None = Field(default=None, description="RS256 signing key for the token command")
    jwt_audience: str = "estuary-checkout"
    jwt_issuer: str | None = None

    stripe_secret_key: str = DEV_STRIPE_SECRET_KEY
    stripe_publishable_key: str = DEV_STRIPE_PUBLISHABLE_KEY
    stripe_api_base: str = "http://127.0.0.1:12111"
    stripe_webhook_secret: str = DEV_WEBHOOK_SECRET
    stripe_timeout_seconds: float = 10.0
    stripe_max_network_retries: int = 2

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"

    tax_rate: Decimal = Decimal("0.0875")
    hold_minutes: int = Field(default=15, ge=1)
    max_pending_orders: int = Field(default=5, ge=1)
    min_lead_minutes: int = Field(default=60, ge=0)
    currency: str = Field(default="usd", description="the default currency of checkouts and prices")
    currencies: list[str] = Field(
        default=["usd", "eur", "gbp", "jpy", "kwd"],
        description="the currencies offered to clients (a checkout in another is 422 CURRENCY_NOT_OFFERED)",
    )
    tax_rates: dict[str, Decimal] = Field(
        default_factory=dict,
        description='a tax rate per currency over CHECKOUT_TAX_RATE, e.g. {"eur": "0.2"}',
    )

    # cancellation policy for new bookings (each booking keeps the policy it was made under)
    cancel_full_refund_hours: int = Field(default=24, ge=0, description="full refund if canceled this early")
    late_cancel_refund_percent: int = Field(default=0, ge=0, le=100, description="refund share after that")
    reschedule_cutoff_hours: int = Field(default=24, ge=0, description="no reschedule closer to the start")
    max_reschedules: int = Field(default=2, ge=0, description="reschedules allowed per booking")
    catalog_cache_seconds: float = Field(
        default=5.0, ge=0, description="how stale catalog rows in price quotes may be (0: no cache)"
    )

    rate_limit_per_minute: int = Field(
        default=60, ge=1, description="create/confirm/coupon attempts per user"
    )

    public_rate_limit_per_minute: int = Field(
        default=120, ge=1, description="payment-link offer reads per client address"
    )
    public_url: str | None = Field(
        default=None,
        description="the service's public base URL for links it hands out (default: the request's)",
    )

    # outbound events (SPEC 12.1)
    webhook_allow_private_urls: bool | None = Field(
        default=None,
        description="allow endpoints on loopback/private/link-local addresses "
        "(default: yes in dev/test, no in production)",
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="per delivery attempt, all in")
    webhook_max_in_flight_per_endpoint: int = Field(default=4, ge=1)
    webhook_max_in_flight: int = Field(default=32, ge=1, description="deliveries in flight per worker")
    webhook_retry_seconds: list[int] = Field(
        default=[30, 300, 1800, 7200, 18000, 36000, 50400, 86400, 86400],
        description="wait before each retry; when they run out the delivery is failed",
    )
    webhook_disable_after_hours: float = Field(
        default=72, gt=0, description="an endpoint failing this long (no 2xx) is disabled"
    )
    webhook_secret_overlap_hours: float = Field(
        default=24, ge=0, description="the previous secret keeps signing this long after a rotation"
    )

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 64 * 1024
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        # absolute once, so child processes and every later use agree whatever their cwd
        self.var_dir = self.var_dir.expanduser().absolute()
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.var_dir / 'checkout.db'}"
        return self

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        if self.jwt_algorithm == "HS256" and (
            not self.jwt_secret or self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32
        ):
            problems.append("CHECKOUT_JWT_SECRET must be set to a random value of at least 32 characters")
        if self.jwt_algorithm == "RS256" and not self.jwt_public_key:
            problems.append("CHECKOUT_JWT_PUBLIC_KEY is required with RS256")
        if not _real_looking_key(self.stripe_secret_key, ("sk_live_", "sk_test_", "rk_live_", "rk_test_")):
            problems.append("CHECKOUT_STRIPE_SECRET_KEY does not look like a Stripe secret key")
        if not _real_looking_key(self.stripe_publishable_key, ("pk_live_", "pk_test_")):
            problems.append("CHECKOUT_STRIPE_PUBLISHABLE_KEY does not look like a Stripe publishable key")
        if self.stripe_webhook_secret == DEV_WEBHOOK_SECRET or not self.stripe_webhook_secret.startswith(
            "whsec_"
        ):
            problems.append("CHECKOUT_STRIPE_WEBHOOK_SECRET must be the endpoint's whsec_ secret")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self

    def offered_currencies(self) -> list[str]:
        """The currencies a client may check out in: the default one always among them."""
        return [self.currency, *(c for c in self.currencies if c != self.currency)]

    def tax_rate_for(self, currency: str) -> Decimal:
        return self.tax_rates.get(currency, self.tax_rate)

    def webhook_private_urls_allowed(self) -> bool:
        if self.webhook_allow_private_urls is not None:
            return self.webhook_allow_private_urls
        return self.env != "production"

    @property
    def jwt_secret_file(self) -> Path:
        """Where dev/test keep the generated HS256 secret when CHECKOUT_JWT_SECRET is not set."""
        return self.var_dir / "jwt_secret"

    def jwt_key_source(self) -> str:
        """Where the token verification key comes from, for messages: a setting's name or a path,
        never the key itself."""
        if self.jwt_algorithm == "RS256":
            return "CHECKOUT_JWT_PUBLIC_KEY"
        if self.jwt_secret:
            return "CHECKOUT_JWT_SECRET"
        return str(self.jwt_secret_file)

    def resolved_jwt_secret(self) -> str:
        """The HS256 secret; in dev/test one is generated once into var_dir when none is set."""
        if self.jwt_secret:
            return self.jwt_secret
        if self.env == "production":
            raise RuntimeError("CHECKOUT_JWT_SECRET is not set")
        path = self.jwt_secret_file
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value


def _real_looking_key(value: str, prefixes: tuple[str, ...]) -> bool:
    return value.startswith(prefixes) and len(value) >= 24 and "emulator" not in value


@lru_cache
def get_settings() -> Settings:
    return Settings()
