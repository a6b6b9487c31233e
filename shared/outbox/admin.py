"""Operations on the event backbone: outbox lag, dead letters, replay (behind ``pain-review events``).

Dead letters live in two places: the ``dead_letter`` table of the consumer's database (in-process
transport; ids ``<database>:<row>``) and the ``<prefix>.deadletter.<consumer>`` subjects of the JetStream
stream (ids ``nats:<stream sequence>``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import nats
import sqlalchemy as sa
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Engine

from shared.bus import NatsSettings
from shared.bus.metrics import DEAD_LETTERED, DELIVERED, DUPLICATES, OUTBOX_LAG, PUBLISHED, REDELIVERED
from shared.contracts import from_json
from shared.outbox.tables import as_utc, dead_letter, inbox, outbox, utcnow

__all__ = [
    "DEAD_LETTERED",
    "DELIVERED",
    "DUPLICATES",
    "OUTBOX_LAG",
    "PUBLISHED",
    "REDELIVERED",
    "DeadLetterInfo",
    "OutboxLag",
    "dead_letter_info",
    "dead_letters",
    "jetstream_admin",
    "nats_dead_letters",
    "outbox_lag",
    "parse_databases",
    "prune",
    "replay_nats_dead_letter",
    "request_replay",
]


def parse_databases(spec: str) -> dict[str, str]:
    """``referral=postgresql://…,careplan=sqlite:///var/careplan.db`` -> ``{name: url}``."""
    databases: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, url = part.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise ValueError(f"expected name=url, got {part.split('=')[0]!r}=…")
        databases[name.strip()] = url.strip()
    return databases


@asynccontextmanager
async def jetstream_admin(settings: NatsSettings) -> AsyncIterator[JetStreamContext]:
    """A short-lived JetStream connection for operations commands."""
    nc = await nats.connect(list(settings.servers), connect_timeout=5, max_reconnect_attempts=2)
    try:
        yield nc.jetstream(timeout=settings.publish_timeout)
    finally:
        await nc.close()


@dataclass(frozen=True)
class OutboxLag:
    """How far one database's outbox is behind."""

    database: str
    unpublished: int
    failing: int
    oldest_age_seconds: float | None
    last_error: str | None


def outbox_lag(engine: Engine, database: str = "outbox") -> OutboxLag:
    """Unpublished rows, how many have failed at least once, and the age of the oldest."""
    c = outbox.c
    pending = c.published_at.is_(None)
    with engine.connect() as conn:
        count, failing, oldest = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(c.attempts > 0),
                sa.func.min(c.created_at),
            ).where(pending)
        ).one()
        last_error = conn.execute(
            sa.select(c.last_error)
            .where(pending, c.last_error.is_not(None))
            .order_by(c.sequence.desc())
            .limit(1)
        ).scalar()
    oldest_utc = as_utc(oldest)
    age = (utcnow() - oldest_utc).total_seconds() if oldest_utc is not None else None
    return OutboxLag(database, int(count), int(failing), age, last_error)


def prune(engine: Engine, *, published_before: timedelta, processed_before: timedelta) -> tuple[int, int]:
    """Delete outbox rows published longer ago than ``published_before`` and inbox rows older than
    ``processed_before``; returns (outbox rows, inbox rows) deleted.

    Keep inbox rows longer than any redelivery can come: longer than the stream's ``max_age`` (30 days
    by default) when a consumer might be reset to replay the stream.
    """
    now = utcnow()
    with engine.begin() as conn:
        published = conn.execute(
            outbox.delete()
            .where(outbox.c.published_at.is_not(None), outbox.c.published_at < now - published_before)
            .returning(outbox.c.sequence)
        ).all()
        processed = conn.execute(
            inbox.delete().where(inbox.c.processed_at < now - processed_before).returning(inbox.c.event_id)
        ).all()
    return len(published), len(processed)


@dataclass(frozen=True)
class DeadLetterInfo:
    """One dead letter, wherever it is kept. ``state``: dead, replay requested or replayed."""

    id: str
    consumer: str
    event_id: str
    type: str
    practice: str
    error: str
    attempts: int
    dead_lettered_at: datetime | None
    state: str


def _row_info(database: str, row: sa.Row[tuple[object, ...]]) -> DeadLetterInfo:
    m = row._mapping
    state = "replayed" if m["replayed_at"] else "replay requested" if m["replay_requested_at"] else "dead"
    return DeadLetterInfo(
        id=f"{database}:{m['id']}",
        consumer=str(m["consumer"]),
        event_id=str(m["event_id"]),
        type=str(m["type"]),
        practice=str(m["practice"]),
        error=str(m["error"]),
        attempts=int(str(m["attempts"])),
        dead_lettered_at=as_utc(m["dead_lettered_at"]),
        state=state,
    )


def dead_letters(engine: Engine, database: str, *, include_replayed: bool = False) -> list[DeadLetterInfo]:
    """Dead letters in one consumer database, oldest first."""
    query = sa.select(dead_letter).order_by(dead_letter.c.id)
    if not include_replayed:
        query = query.where(dead_letter.c.replayed_at.is_(None))
    with engine.connect() as conn:
        return [_row_info(database, row) for row in conn.execute(query).all()]


def dead_letter_info(engine: Engine, database: str, row_id: int) -> DeadLetterInfo | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(dead_letter).where(dead_letter.c.id == row_id)).first()
    return _row_info(database, row) if row is not None else None


def request_replay(engine: Engine, row_id: int) -> bool:
    """Mark a dead letter for replay; the consumer's :class:`Inbox` applies it (once) within seconds.

    Returns False when there is no such dead letter or it was already replayed.
    """
    d = dead_letter.c
    with engine.begin() as conn:
        marked = conn.execute(
            dead_letter.update()
            .where(d.id == row_id, d.replayed_at.is_(None))
            .values(replay_requested_at=utcnow())
            .returning(d.id)
        ).first()
    return marked is not None


def _dead_letter_subject(settings: NatsSettings) -> str:
    return f"{settings.subject_prefix}.deadletter.>"


async def nats_dead_letters(
    js: JetStreamContext, settings: NatsSettings, *, limit: int = 1000
) -> list[DeadLetterInfo]:
    """Dead letters still in the stream (replayed ones are deleted), oldest first."""
    found: list[DeadLetterInfo] = []
    sequence = 1
    while len(found) < limit:
        try:
            msg = await js.get_msg(
                settings.stream, sequence, subject=_dead_letter_subject(settings), next=True
            )
        except NotFoundError:
            break
        headers = msg.headers or {}
        data = msg.data or b""
        try:
            event = from_json(data)
            event_id, type_, practice = event.id, event.type, event.practice
        except ValueError:
            event_id, type_, practice = "?", "?", "?"
        found.append(
            DeadLetterInfo(
                id=f"nats:{msg.seq}",
                consumer=headers.get("Painreview-Consumer", "?"),
                event_id=event_id,
                type=type_,
                practice=practice,
                error=headers.get("Painreview-Error", ""),
                attempts=int(headers.get("Painreview-Attempts", "0") or 0),
                dead_lettered_at=msg.time,
                state="dead",
            )
        )
        sequence = int(msg.seq or sequence) + 1
    return found


async def replay_nats_dead_letter(js: JetStreamContext, settings: NatsSettings, sequence: int) -> str:
    """Re-publish a dead letter to its original subject, then delete it from the stream.

    Every consumer of that type receives it again; those that applied it before drop it in their inbox.
    Returns the ``Nats-Msg-Id`` used for the replay.
    """
    msg = await js.get_msg(settings.stream, sequence)
    headers = dict(msg.headers or {})
    subject = headers.get("Painreview-Original-Subject")
    if not subject or not str(msg.subject or "").startswith(f"{settings.subject_prefix}.deadletter."):
        raise ValueError(f"stream message {sequence} is not a dead letter")
    data = msg.data or b""
    event = from_json(data)
    replay_headers = {k: v for k, v in headers.items() if not k.startswith("Painreview-")}
    msg_id = f"{event.id}:replay:{sequence}"
    replay_headers["Nats-Msg-Id"] = msg_id
    await js.publish(str(subject), data, stream=settings.stream, headers=replay_headers)
    await js.delete_msg(settings.stream, sequence)
    return msg_id
