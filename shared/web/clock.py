"""The time a service acts on: the system clock, or (development and tests only) a movable one.

A movable clock lets an end-to-end test take a taper to its later steps' dates without sleeping: the file
named by ``<PREFIX>_CLOCK_FILE`` (``MEDREVIEW_``, ``GPCONNECT_``, ``GPSIM_``) holds an ISO 8601 instant
with its offset; the clock reads that instant at the moment the file was last written, and runs on from
there in real time (so polls and retries still come due). Rewriting the file moves the clock, in every
process reading it. With no file yet, the system clock. Never in production: a service whose environment is
``production`` refuses to start with a clock file (``refuse_in_production``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["Clock", "FileClock", "clock_for", "refuse_in_production", "system_clock", "write_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, from the system clock (UTC)."""
    return datetime.now(UTC)


def refuse_in_production(clock_file: Path | None, environment: str) -> None:
    """A clock file is refused in production (``ValueError``): the service's environment, or the machine's
    ``ENVIRONMENT``, says production; only the system clock tells the time there."""
    if clock_file is not None and "production" in (environment, os.environ.get("ENVIRONMENT", "")):
        raise ValueError("a clock file (a movable clock for tests) is refused in production")


class FileClock:
    """The instant in ``path`` as of the file's last write, running on in real time since."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[float, str] | None = None
        self._base: datetime | None = None

    def __call__(self) -> datetime:
        try:
            stamp = os.stat(self.path).st_mtime
            if self._seen is None or self._seen[0] != stamp:
                text = self.path.read_text(encoding="utf-8").strip()
                instant = datetime.fromisoformat(text)
                if instant.tzinfo is None:
                    raise ValueError(f"{self.path}: the clock's instant needs an offset: {text!r}")
                self._seen, self._base = (stamp, text), instant.astimezone(UTC)
        except FileNotFoundError:
            return system_clock()
        assert self._base is not None
        written = datetime.fromtimestamp(self._seen[0], UTC)
        return self._base + max(system_clock() - written, timedelta(0))


def clock_for(clock_file: Path | None, environment: str) -> Clock:
    """The service's clock: the movable one when a file is named (refused in production), else the
    system clock."""
    refuse_in_production(clock_file, environment)
    return FileClock(clock_file) if clock_file is not None else system_clock


def write_clock(path: Path, instant: datetime) -> None:
    """Move the clock of every process reading ``path`` to ``instant`` (written whole, then renamed)."""
    if instant.tzinfo is None:
        raise ValueError("the clock's instant needs a timezone")
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(instant.astimezone(UTC).isoformat(), encoding="utf-8")
    os.replace(partial, path)
