"""All of gpconnect's queries: practice configuration, known patients, deliveries and their dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from services.gpconnect.domain.practices import PracticeConfig
from services.gpconnect.tables import delivery, patient, practice, written_prescription
from shared.outbox import dead_letter
from shared.outbox.tables import as_utc, utcnow

__all__ = [
    "DEAD_LETTER_CONSUMER_PREFIX",
    "DELIVERY_ADDED",
    "Delivery",
    "claim_due",
    "delivery_counts",
    "enqueue",
    "get_practice",
    "gp_authorisation_of",
    "list_deliveries",
    "list_practices",
    "mark_awaiting",
    "mark_dead",
    "mark_done",
    "next_due",
    "nhs_number_for",
    "remember_patient",
    "remember_written",
    "replays_requested",
    "reschedule",
    "upsert_practice",
]

DEAD_LETTER_CONSUMER_PREFIX = "gpconnect-delivery:"
"""Dead deliveries are also written to the service's ``dead_letter`` table under this consumer name, so
``pain-review events dead-letters`` lists them and ``pain-review events replay`` retries them."""


@dataclass(frozen=True)
class Delivery:
    id: int
    idempotency_key: str
    practice: str
    kind: str
    event_id: str
    event_type: str
    payload: str
    state: str
    attempts: int
    remote_ref: str | None
    last_error: str | None
    next_attempt_at: datetime | None = None


def _delivery(row: Any) -> Delivery:
    return Delivery(
        row.id,
        row.idempotency_key,
        row.practice,
        row.kind,
        row.event_id,
        row.event_type,
        row.payload,
        row.state,
        row.attempts,
        row.remote_ref,
        row.last_error,
        as_utc(row.next_attempt_at),
    )


# ---- practices ------------------------------------------------------------------------------------
def upsert_practice(conn: Connection, config: PracticeConfig, *, only_if_absent: bool = False) -> bool:
    """Store ``config``; returns False when ``only_if_absent`` and the practice was already configured."""
    values = {
        "supplier": config.supplier,
        "endpoint": config.endpoint,
        "credentials_ref": config.credentials_ref,
        "mesh_mailbox": config.mesh_mailbox,
        "bars_endpoint": config.bars_endpoint,
        "allow_private": config.allow_private,
        "updated_at": utcnow(),
    }
    exists = conn.execute(sa.select(practice.c.ods).where(practice.c.ods == config.ods)).first()
    if exists is not None:
        if only_if_absent:
            return False
        conn.execute(practice.update().where(practice.c.ods == config.ods).values(values))
    else:
        conn.execute(practice.insert().values(ods=config.ods, **values))
    return True


def _practice(row: Any) -> PracticeConfig:
    return PracticeConfig(
        ods=row.ods,
        supplier=row.supplier,
        endpoint=row.endpoint,
        credentials_ref=row.credentials_ref,
        mesh_mailbox=row.mesh_mailbox,
        bars_endpoint=row.bars_endpoint,
        allow_private=bool(row.allow_private),
    )


def get_practice(conn: Connection, ods: str) -> PracticeConfig | None:
    row = conn.execute(sa.select(practice).where(practice.c.ods == ods)).first()
    return _practice(row) if row is not None else None


def list_practices(conn: Connection) -> list[PracticeConfig]:
    return [_practice(r) for r in conn.execute(sa.select(practice).order_by(practice.c.ods))]


def delete_practice(conn: Connection, ods: str) -> bool:
    return conn.execute(practice.delete().where(practice.c.ods == ods)).rowcount > 0


# ---- patients -------------------------------------------------------------------------------------
def remember_patient(conn: Connection, practice_ods: str, patient_id: str, nhs_number: str) -> None:
    key = (patient.c.practice == practice_ods) & (patient.c.patient_id == patient_id)
    if conn.execute(sa.select(patient.c.nhs_number).where(key)).first() is None:
        conn.execute(
            patient.insert().values(practice=practice_ods, patient_id=patient_id, nhs_number=nhs_number)
        )
    else:
        conn.execute(patient.update().where(key).values(nhs_number=nhs_number))


def nhs_number_for(conn: Connection, practice_ods: str, patient_id: str) -> str | None:
    key = (patient.c.practice == practice_ods) & (patient.c.patient_id == patient_id)
    row = conn.execute(sa.select(patient.c.nhs_number).where(key)).first()
    return str(row.nhs_number) if row is not None else None


# ---- deliveries -----------------------------------------------------------------------------------
def remember_written(conn: Connection, practice_ods: str, our_reference: str, gp_id: str) -> None:
    """Our order ``our_reference`` is in the GP record as the GP system's authorisation ``gp_id``."""
    t = written_prescription.c
    key = (t.practice == practice_ods) & (t.our_reference == our_reference)
    if conn.execute(sa.select(t.gp_id).where(key)).first() is None:
        conn.execute(
            written_prescription.insert().values(
                practice=practice_ods, our_reference=our_reference, gp_id=gp_id, written_at=utcnow()
            )
        )


def gp_authorisation_of(conn: Connection, practice_ods: str, our_reference: str) -> str | None:
    """The GP system's id of the authorisation our order was written back as, if it was."""
    t = written_prescription.c
    key = (t.practice == practice_ods) & (t.our_reference == our_reference)
    row = conn.execute(sa.select(t.gp_id).where(key)).first()
    return str(row.gp_id) if row is not None else None


DELIVERY_ADDED = "painreview.gpconnect.delivery-added"
"""Key set in the connection's ``info`` by :func:`enqueue`, so the worker is woken when it is returned."""


def enqueue(
    conn: Connection,
    *,
    key: str,
    practice_ods: str,
    kind: str,
    event_id: str,
    event_type: str,
    payload: str,
    not_before: datetime | None = None,
) -> bool:
    """Add a delivery unless one with the same idempotency key exists; True when added. ``not_before``: the
    delivery is not due before then (a dated write waits for its date)."""
    if conn.execute(sa.select(delivery.c.id).where(delivery.c.idempotency_key == key)).first() is not None:
        return False
    now = utcnow()
    conn.execute(
        delivery.insert().values(
            idempotency_key=key,
            practice=practice_ods,
            kind=kind,
            event_id=event_id,
            event_type=event_type,
            payload=payload,
            state="pending",
            attempts=0,
            next_attempt_at=max(now, not_before) if not_before is not None else now,
            created_at=now,
            updated_at=now,
        )
    )
    conn.info[DELIVERY_ADDED] = True
    return True


def next_due(conn: Connection) -> datetime | None:
    """When the earliest delivery still to be worked on is due (None: there is none)."""
    d = delivery.c
    due = conn.execute(
        sa.select(sa.func.min(d.next_attempt_at)).where(d.state.in_(("pending", "awaiting-decision")))
    ).scalar()
    return as_utc(due) if isinstance(due, datetime) else None


def claim_due(conn: Connection, now: datetime, *, limit: int, lease_seconds: float) -> list[Delivery]:
    """Deliveries due now and not leased by another worker; each is leased for ``lease_seconds``."""
    d = delivery.c
    free = sa.or_(d.lease_until.is_(None), d.lease_until < now)
    candidates = conn.execute(
        sa.select(delivery)
        .where(d.state.in_(("pending", "awaiting-decision")), d.next_attempt_at <= now, free)
        .order_by(d.next_attempt_at, d.id)
        .limit(limit)
    ).all()
    claimed = []
    lease = now + timedelta(seconds=lease_seconds)
    for row in candidates:
        # Optimistic claim: only one worker's UPDATE matches a row whose lease is still free.
        won = conn.execute(delivery.update().where(d.id == row.id, free).values(lease_until=lease)).rowcount
        if won:
            claimed.append(_delivery(row))
    return claimed


def _finish(conn: Connection, row_id: int, **values: Any) -> None:
    conn.execute(
        delivery.update()
        .where(delivery.c.id == row_id)
        .values(lease_until=None, updated_at=utcnow(), **values)
    )


def mark_done(conn: Connection, item: Delivery, remote_ref: str | None) -> None:
    _finish(conn, item.id, state="done", remote_ref=remote_ref, last_error=None)
    _mark_replayed(conn, item)


def mark_awaiting(conn: Connection, item: Delivery, remote_ref: str, next_at: datetime) -> None:
    """Delivered; the GP's decision is to be asked for from ``next_at`` (attempts restart for polling)."""
    _finish(
        conn, item.id, state="awaiting-decision", remote_ref=remote_ref, attempts=0, next_attempt_at=next_at
    )
    _mark_replayed(conn, item)


def reschedule(
    conn: Connection, item: Delivery, *, attempts: int, next_at: datetime, error: str | None
) -> None:
    _finish(conn, item.id, attempts=attempts, next_attempt_at=next_at, last_error=error)


def mark_dead(conn: Connection, item: Delivery, *, attempts: int, error: str) -> None:
    """Give up: the delivery stays (state dead) and a dead letter makes it visible and replayable."""
    _finish(conn, item.id, state="dead", attempts=attempts, last_error=error)
    d = dead_letter.c
    consumer = f"{DEAD_LETTER_CONSUMER_PREFIX}{item.kind}"
    key = (d.consumer == consumer) & (d.event_id == item.event_id)
    values = {"error": error[:2000], "attempts": attempts, "dead_lettered_at": utcnow()}
    existing = conn.execute(sa.select(d.id).where(key)).first()
    if existing is not None:
        conn.execute(
            dead_letter.update().where(key).values(replay_requested_at=None, replayed_at=None, **values)
        )
        return
    conn.execute(
        dead_letter.insert().values(
            consumer=consumer,
            event_id=item.event_id,
            type=item.event_type,
            practice=item.practice,
            payload=item.payload,
            **values,
        )
    )


def _mark_replayed(conn: Connection, item: Delivery) -> None:
    d = dead_letter.c
    conn.execute(
        dead_letter.update()
        .where(
            d.consumer == f"{DEAD_LETTER_CONSUMER_PREFIX}{item.kind}",
            d.event_id == item.event_id,
            d.replayed_at.is_(None),
        )
        .values(replayed_at=utcnow())
    )


def replays_requested(conn: Connection) -> int:
    """Dead deliveries whose replay was asked for (``pain-review events replay``) go back to pending."""
    d = dead_letter.c
    rows = conn.execute(
        sa.select(d.id, d.consumer, d.event_id).where(
            d.consumer.like(f"{DEAD_LETTER_CONSUMER_PREFIX}%"),
            d.replay_requested_at.is_not(None),
            d.replayed_at.is_(None),
        )
    ).all()
    now, count = utcnow(), 0
    for row in rows:
        kind = row.consumer.removeprefix(DEAD_LETTER_CONSUMER_PREFIX)
        count += conn.execute(
            delivery.update()
            .where(delivery.c.event_id == row.event_id, delivery.c.kind == kind, delivery.c.state == "dead")
            .values(state="pending", attempts=0, next_attempt_at=now, lease_until=None, updated_at=now)
        ).rowcount
    return count


def delivery_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(delivery.c.state, sa.func.count()).group_by(delivery.c.state)).all()
    return {str(state): int(n) for state, n in rows}


def list_deliveries(conn: Connection, *, state: str | None = None, limit: int = 100) -> list[Delivery]:
    query = sa.select(delivery).order_by(delivery.c.id.desc()).limit(limit)
    if state:
        query = query.where(delivery.c.state == state)
    return [_delivery(r) for r in conn.execute(query)]
