"""Counting offer views without a write per view: each process adds them up in memory and writes
the sums every `FLUSH_SECONDS` (one upsert per link and flush), and when stats are read or the
process stops. A crash loses at most a few seconds of views: they are a funnel figure, not money."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estuary_checkout.db.base import utcnow
from estuary_checkout.db.session import session_scope, upsert_insert
from estuary_checkout.links.models import PaymentLinkViews

log = structlog.get_logger(__name__)
FLUSH_SECONDS = 5.0


class ViewCounter:
    def __init__(self, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.flush_seconds = flush_seconds
        self.pending: Counter[int] = Counter()
        self._last_flush = time.monotonic()
        self._flushing: asyncio.Task[None] | None = None

    def add(self, link_id: int, session_factory: async_sessionmaker[AsyncSession]) -> None:
        """Count a view; now and then start a flush in the background (never awaited by the view)."""
        self.pending[link_id] += 1
        due = time.monotonic() - self._last_flush >= self.flush_seconds
        if due and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.create_task(self.flush(session_factory))

    async def flush(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._last_flush = time.monotonic()
        batch, self.pending = self.pending, Counter()
        if not batch:
            return
        try:
            async for session in session_scope(session_factory):
                now = utcnow()
                for link_id, n in sorted(batch.items()):
                    stmt = upsert_insert(session, PaymentLinkViews).values(
                        link_id=link_id, views=n, updated_at=now
                    )
                    await session.execute(
                        stmt.on_conflict_do_update(
                            index_elements=["link_id"],
                            set_={"views": PaymentLinkViews.views + stmt.excluded.views, "updated_at": now},
                        )
                    )
        except Exception:
            self.pending.update(batch)  # kept for the next flush
            log.exception("links.views_flush_failed", links=len(batch))
