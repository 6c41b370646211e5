"""What one process holds for its lifetime: settings, database, Stripe gateway, Temporal client."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from estuary_checkout.auth.service import VerifiedTokens
from estuary_checkout.catalog.service import CatalogCache
from estuary_checkout.config import Settings
from estuary_checkout.db.session import make_engine, make_session_factory
from estuary_checkout.links.views import ViewCounter
from estuary_checkout.payments.gateway import StripeGateway
from estuary_checkout.ratelimit import RateLimiter
from estuary_checkout.workflows.client import TemporalConnector


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    gateway: StripeGateway
    temporal: TemporalConnector
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    # sub -> (user id, email, roles) of users already in the database: a known caller costs no
    # transaction of its own. Ids never change; a token with other email/roles takes the slow path.
    known_users: dict[str, tuple[int, str | None, tuple[str, ...]]] = field(default_factory=dict)
    catalog_cache: CatalogCache | None = None
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)
    # per client address, for the unauthenticated payment-link offer
    public_limiter: RateLimiter = field(default_factory=RateLimiter)
    link_views: ViewCounter = field(default_factory=ViewCounter)

    @classmethod
    def build(cls, settings: Settings, *, engine: AsyncEngine | None = None) -> AppState:
        engine = engine or make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_pre_ping=settings.db_pool_pre_ping,
        )
        return cls(
            settings=settings,
            engine=engine,
            session_factory=make_session_factory(engine),
            gateway=StripeGateway(settings),
            temporal=TemporalConnector(settings.temporal_address, settings.temporal_namespace),
            rate_limiter=RateLimiter(per_minute=settings.rate_limit_per_minute),
            public_limiter=RateLimiter(per_minute=settings.public_rate_limit_per_minute),
            catalog_cache=CatalogCache(settings.catalog_cache_seconds)
            if settings.catalog_cache_seconds > 0
            else None,
        )

    async def aclose(self) -> None:
        await self.link_views.flush(self.session_factory)
        await self.gateway.aclose()
        await self.engine.dispose()
