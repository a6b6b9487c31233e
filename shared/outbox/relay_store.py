"""The relay's queries on the outbox table (synchronous; the relay runs them in worker threads)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from shared.bus import Backoff
from shared.outbox.tables import as_utc, outbox, utcnow

__all__ = ["OutboxRow", "PublishResult", "claim", "lag", "mark", "pending_count"]

_CHUNK = 500  # bound the IN (...) lists: SQLite allows at most 32766 parameters


@dataclass(frozen=True)
class OutboxRow:
    sequence: int
    type: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class PublishResult:
    row: OutboxRow
    error: str | None  # None: the transport confirmed it


def claim(
    engine: Engine,
    *,
    window: int,
    limit: int,
    in_flight: frozenset[int],
    confirmed: frozenset[int],
) -> list[OutboxRow]:
    """The next rows to publish: the oldest unpublished row of each subject, if due and not in flight.

    ``in_flight`` rows (being published, or failed and not yet rescheduled) hold back later rows of
    their subject; ``confirmed`` rows (acknowledged, their mark on its way) are treated as published.
    """
    now = utcnow()
    c = outbox.c
    # Look only as far as needed: rows held back plus twice what we may start; widen once if short.
    size = min(window, 2 * (len(in_flight) + len(confirmed) + limit) + 32)
    with engine.begin() as conn:
        while True:
            heads = conn.execute(
                sa.select(c.sequence, c.subject, c.next_attempt_at)
                .where(c.published_at.is_(None))
                .order_by(c.sequence)
                .limit(size)
            ).all()
            chosen = _choose(heads, now, limit, in_flight, confirmed)
            if len(chosen) >= limit or len(heads) < size or size >= window:
                break
            size = window
        if not chosen:
            return []
        rows = conn.execute(
            sa.select(c.sequence, c.type, c.payload, c.attempts)
            .where(c.sequence.in_(chosen))
            .order_by(c.sequence)
        ).all()
    return [OutboxRow(r.sequence, r.type, r.payload, r.attempts) for r in rows]


def _choose(
    heads: Sequence[Any],
    now: datetime,
    limit: int,
    in_flight: frozenset[int],
    confirmed: frozenset[int],
) -> list[int]:
    seen: set[str] = set()
    chosen: list[int] = []
    for sequence, subject, next_attempt_at in heads:
        if sequence in confirmed:
            continue
        if subject in seen:
            continue  # an earlier event about the same resource is not confirmed yet
        seen.add(subject)
        due = as_utc(next_attempt_at)
        if sequence not in in_flight and (due is None or due <= now):
            chosen.append(sequence)
            if len(chosen) >= limit:
                break
    return chosen


def mark(engine: Engine, results: Sequence[PublishResult], backoff: Backoff) -> None:
    """Record confirmed rows as published and reschedule failed ones, in one transaction."""
    now = utcnow()
    c = outbox.c
    done = [r.row.sequence for r in results if r.error is None]
    failed = [
        {"s": r.row.sequence, "e": r.error, "t": now + timedelta(seconds=backoff.delay(r.row.attempts + 1))}
        for r in results
        if r.error is not None
    ]
    with engine.begin() as conn:
        for start in range(0, len(done), _CHUNK):
            conn.execute(
                outbox.update()
                .where(c.sequence.in_(done[start : start + _CHUNK]))
                .values(published_at=now, attempts=c.attempts + 1, next_attempt_at=None)
            )
        if failed:
            conn.execute(
                outbox.update()
                .where(c.sequence == sa.bindparam("s"))
                .values(
                    attempts=c.attempts + 1, last_error=sa.bindparam("e"), next_attempt_at=sa.bindparam("t")
                ),
                failed,
            )


def pending_count(engine: Engine) -> int:
    with engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        ).scalar_one()
    return int(count)


def lag(engine: Engine) -> tuple[int, float]:
    """(unpublished rows, age of the oldest in seconds)."""
    with engine.connect() as conn:
        count, oldest = conn.execute(
            sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(
                outbox.c.published_at.is_(None)
            )
        ).one()
    oldest_utc = as_utc(oldest)
    return int(count), (utcnow() - oldest_utc).total_seconds() if oldest_utc is not None else 0.0
