"""When to try a delivery to a GP system again, and when to stop trying a practice for a while. Pure.

* :class:`RetryPolicy`: exponential backoff with full jitter (the delay is drawn uniformly between 0 and
  the exponential cap, so many deliveries failing together do not retry together), and a retry budget
  after which a delivery is dead-lettered.
* :class:`CircuitBreaker`: one per practice. After ``failure_threshold`` consecutive failures the circuit
  opens: no call is made to that practice for ``open_seconds``; then one trial call is let through
  (half-open); its success closes the circuit, its failure opens it again.

Times are seconds on a monotonic clock, passed in by the caller.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` tries in all; the n-th retry waits up to ``base_seconds * 2**(n-1)`` (capped)."""

    max_attempts: int = 8
    base_seconds: float = 0.5
    cap_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_seconds < 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("retry policy needs max_attempts >= 1 and 0 <= base_seconds <= cap_seconds")

    def exhausted(self, attempts: int) -> bool:
        """True once ``attempts`` tries have failed and no more are allowed."""
        return attempts >= self.max_attempts

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Seconds to wait before the next try, after ``attempts`` failed tries (full jitter)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return rng.uniform(0, ceiling)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass
class CircuitBreaker:
    failure_threshold: int = 5
    open_seconds: float = 10.0
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    trial_in_flight: bool = field(default=False)

    def allow(self, now: float) -> bool:
        """May a call be made now? In half-open state only one trial call at a time."""
        if self.state is BreakerState.OPEN:
            if now - self.opened_at < self.open_seconds:
                return False
            self.state = BreakerState.HALF_OPEN
            self.trial_in_flight = False
        if self.state is BreakerState.HALF_OPEN:
            if self.trial_in_flight:
                return False
            self.trial_in_flight = True
        return True

    def retry_at(self, now: float) -> float:
        """When a call refused now may be tried again (seconds, same clock)."""
        if self.state is BreakerState.OPEN:
            return self.opened_at + self.open_seconds
        return now + min(1.0, self.open_seconds)

    def record_success(self) -> None:
        """A call succeeded. One that started before the circuit opened does not close it again: only
        the half-open trial does."""
        if self.state is BreakerState.OPEN:
            return
        self.state, self.failures, self.trial_in_flight = BreakerState.CLOSED, 0, False

    def record_failure(self, now: float) -> None:
        """A failure that says the practice's system is unwell (timeouts, 5xx), not a refused message."""
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.failure_threshold:
            self.state, self.opened_at, self.trial_in_flight = BreakerState.OPEN, now, False

    def release(self) -> None:
        """A trial call ended without telling whether the system is well (e.g. it was refused as bad)."""
        self.trial_in_flight = False
