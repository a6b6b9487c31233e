"""Times as stored: always UTC. SQLite keeps them without an offset, so reading one back needs this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

__all__ = ["as_utc"]


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
