"""Per-client request rate limits: a token bucket per client id, in process.

Each process limits on its own, so in production (one process per service) a client gets the rate
per service. Buckets of clients not seen for a while are dropped, oldest first, so memory stays
bounded however many client ids turn up.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shared.auth.settings import AuthSettings
from shared.fhir.errors import TooManyRequests


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        *,
        rate_per_s: float,
        burst: int,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be positive and burst at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def per_minute(cls, requests: float, *, burst: int) -> RateLimiter:
        return cls(rate_per_s=requests / 60.0, burst=burst)

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> RateLimiter:
        return cls.per_minute(settings.rate_per_minute, burst=settings.rate_burst)

    def try_acquire(self, client_id: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens for ``client_id``: 0.0 if allowed, else the seconds until it would be."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.pop(client_id, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate_per_s)
            bucket.updated = now
            self._buckets[client_id] = bucket  # most recently used last
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / self.rate_per_s

    def check(self, client_id: str) -> None:
        """Count one request; raises ``TooManyRequests`` with ``Retry-After`` (whole seconds) when over."""
        wait_s = self.try_acquire(client_id)
        if wait_s > 0:
            retry_after = max(1, math.ceil(wait_s))
            raise TooManyRequests(
                f"Too many requests from this client; retry after {retry_after} seconds",
                headers={"Retry-After": str(retry_after)},
            )
