"""Request rate limits, in process: a token bucket per client id, and one per network address for
refused authentications.

Each process limits on its own, so in production (one process per service) a client gets the rate
per service. Buckets of clients not seen for a while are dropped, oldest first, so memory stays
bounded however many client ids (or addresses) turn up.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from shared.auth.settings import AuthSettings
from shared.core.errors import ClientThrottled, RefusalsThrottled, TooManyRequests, Unauthorized

log = logging.getLogger(__name__)


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
        self._throttled: OrderedDict[str, int] = OrderedDict()  # client -> 429s not audited this spell
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

    def check(self, client_id: str) -> int:
        """Count one request. Allowed: returns how many of this client's 429s were not audited since its
        last audited request (to be recorded in this request's AuditEvent). Over the limit: the first
        429 of a spell raises ``TooManyRequests`` (audited), the rest ``ClientThrottled`` (only counted),
        each with ``Retry-After`` (whole seconds). So a client hammering us costs no audit write per
        request, and the trail still shows that it was throttled and how often."""
        wait_s = self.try_acquire(client_id)
        with self._lock:
            if wait_s <= 0:
                return self._throttled.pop(client_id, 0)
            spell = client_id in self._throttled
            self._throttled[client_id] = self._throttled.pop(client_id, -1) + 1
            while len(self._throttled) > self.max_clients:
                self._throttled.popitem(last=False)
        retry_after = max(1, math.ceil(wait_s))
        error = ClientThrottled if spell else TooManyRequests
        raise error(
            f"Too many requests from this client; retry after {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
        )


class RefusalLimiter:
    """Refused authentications (401) per network address.

    Every refusal is audited, which costs a database write; a caller without a valid token must not be
    able to make us write without bound. So each address may have ``burst`` refusals, then ``rate_per_s``,
    answered 401 and audited one by one. Beyond that a request without a valid token is answered 429
    (``RefusalsThrottled``) and only counted, and the count goes into the AuditEvent of the next audited
    refusal from that address. Requests with a valid token never touch this budget, so a client behind
    the same address as a misconfigured one is not held up.
    """

    def __init__(
        self,
        *,
        rate_per_s: float,
        burst: int,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._buckets = RateLimiter(
            rate_per_s=rate_per_s, burst=burst, max_clients=max_addresses, clock=clock
        )
        self._unaudited: OrderedDict[str, int] = OrderedDict()
        self._max_addresses = max_addresses
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> RefusalLimiter:
        return cls(rate_per_s=settings.refused_per_minute / 60.0, burst=settings.refused_burst)

    def refused(self, address: str, refusal: Unauthorized) -> None:
        """Count ``refusal`` from ``address``. Within budget it is returned to be audited, carrying in
        ``unaudited_before`` how many were not audited since the last; beyond, ``RefusalsThrottled``."""
        wait_s = self._buckets.try_acquire(address)
        with self._lock:
            if wait_s > 0:
                unaudited = self._unaudited.pop(address, 0) + 1
                self._unaudited[address] = unaudited
                while len(self._unaudited) > self._max_addresses:
                    self._unaudited.popitem(last=False)
            else:
                refusal.unaudited_before = self._unaudited.pop(address, 0)
        if wait_s > 0:
            if unaudited == 1:  # once per spell; an address is not patient data
                log.warning("no valid token from %s too often: 429s, not audited one by one", address)
            retry_after = max(1, math.ceil(wait_s))
            raise RefusalsThrottled(
                "Too many requests without a valid access token from this address; "
                f"retry after {retry_after} seconds",
                headers={"Retry-After": str(retry_after)},
            ) from refusal
