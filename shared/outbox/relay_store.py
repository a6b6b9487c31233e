"""The relay's queries on the outbox table (synchronous; the relay runs them in worker threads)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql
from sqlalchemy.pool import StaticPool

from shared.bus import Backoff
from shared.outbox.tables import as_utc, outbox, utcnow

__all__ = ["OutboxReader", "OutboxRow", "PublishResult", "claim", "lag", "mark", "pending_count"]

_CHUNK = 500  # bound the IN (...) lists: SQLite allows at most 32766 parameters


@dataclass(frozen=True)
class OutboxRow:
    sequence: int
    type: str
    payload: str
    attempts: int
    event_id: str
    practice: str


@dataclass(frozen=True)
class PublishResult:
    row: OutboxRow
    error: str | None  # None: the transport confirmed it


class OutboxReader:
    """The relay's own connection for its reads, outside any transaction.

    On SQLite a transaction here would be BEGIN IMMEDIATE and queue behind every producer's write,
    while a plain read in WAL mode never waits for a writer; on PostgreSQL the connection is in
    autocommit. Keeping one connection spares a pool checkout, a ping and a rollback per read.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._raw: Any = None
        self.pending = True  # the last claim saw unpublished rows (due or not): the relay keeps polling
        # An in-memory SQLite database lives in its one shared connection: never hold or discard it.
        self._dedicated = engine.dialect.name in ("postgresql", "sqlite") and not isinstance(
            engine.pool, StaticPool
        )

    def read(self, sql: str) -> list[tuple[Any, ...]]:
        if not self._dedicated:
            return _read(self.engine, sql)
        for attempt in (1, 2):
            try:
                cursor = self._connection().cursor()
                try:
                    cursor.execute(sql)
                    return [tuple(row) for row in cursor.fetchall()]
                finally:
                    cursor.close()
            except Exception:
                self.close()  # a broken connection (database restarted): one fresh try
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _connection(self) -> Any:
        if self._raw is None:
            raw = self.engine.raw_connection()
            if self.engine.dialect.name == "postgresql":
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            self._raw = raw
        return self._raw

    def close(self) -> None:
        """Discard the connection (never back to the pool: it is in autocommit)."""
        raw, self._raw = self._raw, None
        if raw is not None:
            raw.invalidate()


def claim(
    reader: OutboxReader,
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
    # Look only as far as needed: rows held back plus twice what we may start; widen once if short.
    size = min(window, 2 * (len(in_flight) + len(confirmed) + limit) + 32)
    while True:
        with_payload = size <= _WITH_PAYLOAD  # small windows: one query brings everything
        heads = reader.read(f"{_HEADS_FULL if with_payload else _HEADS} LIMIT {int(size)}")
        chosen = _choose(heads, now, limit, in_flight, confirmed)
        reader.pending = bool(heads)
        if len(chosen) >= limit or len(heads) < size or size >= window:
            break
        size = window
    if not chosen:
        return []
    if with_payload:
        wanted = set(chosen)
        rows = [(h[0], *h[3:]) for h in heads if h[0] in wanted]
    else:
        numbers = ",".join(str(int(s)) for s in chosen)
        rows = reader.read(f'{_ROWS} WHERE "sequence" IN ({numbers}) ORDER BY "sequence"')
    return [OutboxRow(int(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]), str(r[5])) for r in rows]


# Only integers are interpolated into these (a LIMIT, and sequence numbers read from the table).
_PENDING = 'FROM outbox WHERE published_at IS NULL ORDER BY "sequence"'
_HEADS = f'SELECT "sequence", subject, next_attempt_at {_PENDING}'
_COLUMNS = "type, payload, attempts, event_id, practice"  # after "sequence": the fields of OutboxRow
_HEADS_FULL = f'SELECT "sequence", subject, next_attempt_at, {_COLUMNS} {_PENDING}'
_ROWS = f'SELECT "sequence", {_COLUMNS} FROM outbox'
_WITH_PAYLOAD = 256


def _read(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    """A one-off read outside any transaction, on a pooled connection."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()
    finally:
        raw.close()  # back to the pool, which rolls back PostgreSQL's implicit read transaction


def _as_time(value: object) -> datetime | None:
    if isinstance(value, str):  # SQLite hands back the stored text
        value = datetime.fromisoformat(value)
    return as_utc(value) if isinstance(value, datetime) else None


def _choose(
    heads: Sequence[Any],
    now: datetime,
    limit: int,
    in_flight: frozenset[int],
    confirmed: frozenset[int],
) -> list[int]:
    seen: set[str] = set()
    chosen: list[int] = []
    for sequence, subject, next_attempt_at, *_ in heads:
        if sequence in confirmed:
            continue
        if subject in seen:
            continue  # an earlier event about the same resource is not confirmed yet
        seen.add(subject)
        due = _as_time(next_attempt_at)
        if sequence not in in_flight and (due is None or due <= now):
            chosen.append(sequence)
            if len(chosen) >= limit:
                break
    return chosen


_PUBLISHED = {"published_at": sa.bindparam("now"), "attempts": outbox.c.attempts + 1, "next_attempt_at": None}
# PostgreSQL: one statement of one shape whatever the batch (an array parameter), so neither SQLAlchemy
# nor psycopg converts a new query per batch size, as an expanding IN (...) list makes them do.
_MARK_ANY = (
    outbox.update()
    .where(outbox.c.sequence == sa.any_(sa.bindparam("done", type_=postgresql.ARRAY(sa.BigInteger()))))
    .values(_PUBLISHED)
)


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
        if done and conn.dialect.name == "postgresql":
            conn.execute(_MARK_ANY, {"done": done, "now": now})
        else:
            for start in range(0, len(done), _CHUNK):
                conn.execute(
                    outbox.update().where(c.sequence.in_(done[start : start + _CHUNK])).values(_PUBLISHED),
                    {"now": now},
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
    [(count,)] = _read(engine, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return int(count)


def lag(engine: Engine) -> tuple[int, float]:
    """(unpublished rows, age of the oldest in seconds)."""
    [(count, oldest)] = _read(
        engine, "SELECT count(*), min(created_at) FROM outbox WHERE published_at IS NULL"
    )
    oldest_utc = _as_time(oldest)
    return int(count), (utcnow() - oldest_utc).total_seconds() if oldest_utc is not None else 0.0
