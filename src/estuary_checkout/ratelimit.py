"""Sliding-window limits per user (attempts that cost money or hold inventory) or per client
address (the one unauthenticated read, a payment link's offer).

In-process: each replica enforces its own window, so N replicas allow up to N× the limit; the
database invariants (slots, credit, coupons, the pending-order cap) hold regardless.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque

from estuary_checkout.errors import RateLimited

MAX_KEYS = 50_000


class RateLimiter:
    def __init__(self, per_minute: int = 60, window_seconds: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window_seconds
        self._hits: dict[tuple[str, int | str], deque[float]] = defaultdict(deque)

    def hit(self, bucket: str, user_id: int | str) -> float | None:
        """Record an attempt; return seconds to wait if over the limit, else None."""
        now = time.monotonic()
        if len(self._hits) > MAX_KEYS:
            self._prune(now)
        hits = self._hits[(bucket, user_id)]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return max(0.0, hits[0] + self.window - now)
        hits.append(now)
        return None

    def _prune(self, now: float) -> None:
        """Forget callers with no attempt inside the window (keyed by client address, the map
        would otherwise grow with every address ever seen)."""
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]:
            del self._hits[key]

    def enforce(self, bucket: str, user_id: int | str) -> None:
        """Count an attempt; raise 429 RATE_LIMITED with Retry-After past the limit."""
        wait = self.hit(bucket, user_id)
        if wait is not None:
            retry_after = max(1, int(wait + 0.999))
            raise RateLimited(
                "Too many attempts; slow down",
                details={"bucket": bucket, "retry_after_seconds": retry_after},
                headers={"Retry-After": str(retry_after)},
            )
