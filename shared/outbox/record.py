"""Writing events into the outbox, inside the producer's own transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from shared.contracts import CloudEvent, to_json, validate_event
from shared.outbox.tables import outbox, utcnow

__all__ = ["OUTBOX_DIRTY", "record_event", "record_events"]

OUTBOX_DIRTY = "painreview.outbox.dirty"
"""Key set in the connection's ``info`` so the relay is woken when the connection is returned."""

_INSERT = outbox.insert()  # built once: cheaper to find in SQLAlchemy's compiled cache


def record_event(conn: Connection, event: CloudEvent) -> None:
    """Add ``event`` to the outbox in the caller's transaction (validated against its contract).

    The event is published only if that transaction commits. With a SQLModel/ORM ``Session`` pass
    ``session.connection()``. After the commit the relay of this engine is woken automatically when the
    connection goes back to the pool; :meth:`OutboxRelay.notify` wakes it explicitly.
    """
    record_events(conn, (event,))


def record_events(conn: Connection, events: Iterable[CloudEvent]) -> None:
    """Add several events to the outbox in the caller's transaction, in order."""
    if not conn.in_transaction():
        raise RuntimeError("record_event must run inside the caller's transaction")
    now = utcnow()
    rows = []
    for event in events:
        validate_event(event)
        rows.append(
            {
                "event_id": event.id,
                "type": event.type,
                "subject": event.subject,
                "practice": event.practice,
                "payload": to_json(event).decode(),
                "created_at": now,
                "attempts": 0,
            }
        )
    if rows:
        conn.execute(_INSERT, rows[0] if len(rows) == 1 else rows)
        conn.info[OUTBOX_DIRTY] = True
