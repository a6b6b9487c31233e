"""One fake clock: time moves only when the test says (``advance``). A clock started at ``None``
follows the real time, moved on by ``advance`` (for rows the code under test stamps with the real
time)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["NOW", "Clock", "utc"]

NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z


def utc(seconds: float) -> datetime:
    """Seconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


class Clock:
    """Callable as a ``() -> float`` clock (seconds since the epoch); ``utc`` is the same instant as
    a ``() -> datetime`` clock."""

    def __init__(self, start: float | None = NOW) -> None:
        self.start = start
        self.offset = 0.0

    def now(self) -> float:
        return (time.time() if self.start is None else self.start) + self.offset

    def __call__(self) -> float:
        return self.now()

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def utc(self) -> datetime:
        return utc(self.now())
