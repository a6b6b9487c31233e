"""Applying a batch of deliveries: inbox rows and effects in one transaction.

Fast path: one multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` records the batch in the inbox
and tells which events are new; their handlers run on the same connection; one commit. If any handler
raises, that transaction is rolled back whole and a batch of several is applied again with a savepoint
per event, so only the failing events are left for redelivery. Handlers therefore must keep their
effects in the database (they may run again after a rollback, as with any redelivery).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite

from shared.bus import Failure, Outcome, Received, describe_error
from shared.contracts import CloudEvent
from shared.observability.tracing import event_span, tracing_enabled
from shared.outbox.tables import inbox, utcnow

__all__ = ["Applied", "EventHandler", "apply_batch", "record_in_inbox"]

log = logging.getLogger(__name__)

EventHandler = Callable[[Connection, CloudEvent], None]
"""Applies one event using ``conn`` (inside the inbox transaction); raising means "retry later"."""


# Built once: a statement object reused is compiled once and found in SQLAlchemy's cache cheaply.
# RETURNING, not rowcount: drivers report -1 for some INSERT ... ON CONFLICT statements.
_RECORD = {
    "postgresql": postgresql.insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id),
    "sqlite": sqlite.insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id),
}
# PostgreSQL, several events: the ids as one array parameter, so the statement has one shape whatever
# the batch size (a multi-row VALUES list is a new query for SQLAlchemy and psycopg at each size).
_RECORD_MANY_PG = (
    postgresql.insert(inbox)
    .from_select(
        ["consumer", "event_id", "processed_at"],
        sa.select(
            sa.bindparam("consumer", type_=inbox.c.consumer.type),
            sa.func.unnest(sa.bindparam("ids", type_=postgresql.ARRAY(inbox.c.event_id.type))),
            sa.bindparam("now", type_=inbox.c.processed_at.type),
        ),
    )
    .on_conflict_do_nothing()
    .returning(inbox.c.event_id)
)


def record_in_inbox(conn: Connection, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Record ``event_ids`` as applied by ``consumer``; returns those that were not recorded before."""
    if not event_ids:
        return set()
    now = utcnow()
    ids = list(dict.fromkeys(event_ids))
    if len(ids) > 1 and conn.dialect.name == "postgresql":
        params = {"consumer": consumer, "ids": ids, "now": now}
        return {str(r.event_id) for r in conn.execute(_RECORD_MANY_PG, params)}
    rows = [{"consumer": consumer, "event_id": i, "processed_at": now} for i in ids]
    stmt = _RECORD.get(conn.dialect.name)
    if stmt is not None:
        return {str(r.event_id) for r in conn.execute(stmt, rows[0] if len(rows) == 1 else rows)}
    seen = {
        str(r.event_id)
        for r in conn.execute(
            sa.select(inbox.c.event_id).where(inbox.c.consumer == consumer, inbox.c.event_id.in_(event_ids))
        )
    }
    new = [r for r in rows if r["event_id"] not in seen]
    if new:
        conn.execute(inbox.insert(), new)
    return {str(r["event_id"]) for r in new}


@dataclass
class Applied:
    """What a batch did: one outcome per delivery, and counts by event type for the metrics."""

    outcomes: list[Outcome]
    applied: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)


def _run_handler(
    handlers: Mapping[str, EventHandler], consumer: str, conn: Connection, event: CloudEvent
) -> None:
    if not tracing_enabled():
        handlers[event.type](conn, event)
        return
    attributes = {"messaging.message.id": event.id, "messaging.consumer.group.name": consumer}
    with event_span(f"process {event.type}", traceparent=event.traceparent, attributes=attributes):
        handlers[event.type](conn, event)


def _together(
    engine: Engine, consumer: str, handlers: Mapping[str, EventHandler], batch: Sequence[Received]
) -> Applied:
    result = Applied([None] * len(batch))
    with engine.begin() as conn:
        new = record_in_inbox(conn, consumer, [r.event.id for r in batch])
        for item in batch:
            event = item.event
            if event.id in new:
                new.discard(event.id)  # the same event twice in one batch runs once
                _run_handler(handlers, consumer, conn, event)
                result.applied[event.type] += 1
            else:
                result.duplicates[event.type] += 1
    return result


def _one_by_one(
    engine: Engine, consumer: str, handlers: Mapping[str, EventHandler], batch: Sequence[Received]
) -> Applied:
    result = Applied([])
    with engine.begin() as conn:
        for item in batch:
            event = item.event
            try:
                with conn.begin_nested():
                    if record_in_inbox(conn, consumer, [event.id]):
                        _run_handler(handlers, consumer, conn, event)
                        result.applied[event.type] += 1
                    else:
                        result.duplicates[event.type] += 1
                result.outcomes.append(None)
            except Exception as exc:
                result.outcomes.append(Failure(describe_error(exc)))
                log.warning(
                    "consumer %s: event %s (%s) failed: %s",
                    consumer,
                    event.id,
                    event.type,
                    type(exc).__name__,
                )
    return result


def apply_batch(
    engine: Engine, consumer: str, handlers: Mapping[str, EventHandler], batch: Sequence[Received]
) -> Applied:
    """Apply ``batch`` for ``consumer``; committed when this returns."""
    try:
        return _together(engine, consumer, handlers, batch)
    except Exception as exc:
        if len(batch) == 1:  # nothing to isolate: this event failed
            event = batch[0].event
            log.warning(
                "consumer %s: event %s (%s) failed: %s", consumer, event.id, event.type, type(exc).__name__
            )
            return Applied([Failure(describe_error(exc))])
        log.info("consumer %s: batch of %d failed (%s); isolating", consumer, len(batch), type(exc).__name__)
    return _one_by_one(engine, consumer, handlers, batch)
