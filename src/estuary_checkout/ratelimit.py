"""Per-user sliding-window limits on attempts that cost money or hold inventory.

In-process: each replica enforces its own window, so N replicas allow up to N× the limit; the
database invariants (slots, credit, coupons, the pending-order cap) hold regardless.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque

from estuary_checkout.errors import RateLimited


class RateLimiter:
    def __init__(self, per_minute: int = 60, window_seconds: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window_seconds
        self._hits: dict[tuple[str, int], deque[float]] = defaultdict(deque)

    def hit(self, bucket: str, user_id: int) -> float | None:
        """Record an attempt; return seconds to wait if over the limit, else None."""
        now = time.monotonic()
        hits = self._hits[(bucket, user_id)]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return max(0.0, hits[0] + self.window - now)
        hits.append(now)
        return None

    def enforce(self, bucket: str, user_id: int) -> None:
        """Count an attempt; raise 429 RATE_LIMITED with Retry-After past the limit."""
        wait = self.hit(bucket, user_id)
        if wait is not None:
            retry_after = max(1, int(wait + 0.999))
            raise RateLimited(
                "Too many attempts; slow down",
                details={"bucket": bucket, "retry_after_seconds": retry_after},
                headers={"Retry-After": str(retry_after)},
            )
