"""Every query of the referral service: the kernel store for FHIR resources, its own tables beside it.

All functions take the caller's unit of work (the kernel's: one transaction per request or event,
the practices the caller may touch, the practice that owns what is written). A unit that keeps new
resources for one batched insert flushes them before a query of the resource tables here, so every
query sees what this unit wrote; queries of the service's own tables need not.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, text, update

from services.referral.tables import bars_message, bars_resource, invitation_template
from shared.db import is_postgres
from shared.fhir import (
    NHS_NUMBER_SYSTEM,
    UnitOfWork,
    history_table,
    now_instant,
    record_discharge,
    record_enrolment,
    resource_table,
    search_index_table,
    visible_rows,
)

__all__ = [
    "RECORD_TYPES",
    "HeldMessage",
    "discharged",
    "enrolled",
    "held_message",
    "latest_message",
    "latest_sent_at",
    "lock",
    "message_seen",
    "nhs_number_taken",
    "patient_records",
    "patient_with_nhs_number",
    "record_message",
    "record_sender_ids",
    "referral_of_message",
    "save_template",
    "sender_ids",
    "stored_template",
    "version_before",
    "workflow_task",
]

RECORD_TYPES = ("MedicationRequest", "MedicationStatement", "Condition", "Flag")
R = resource_table
H = history_table
X = search_index_table


@dataclass(frozen=True)
class HeldMessage:
    message_id: str
    reason: str
    sent_at: datetime | None
    header: dict[str, Any]


def lock(uow: UnitOfWork, *keys: str) -> None:
    """Serialise transactions touching the same keys (a patient's NHS number, a referral, a message).

    PostgreSQL: transaction-scoped advisory locks, taken in a fixed order. SQLite needs none: its
    writers already take the database lock when they begin (``BEGIN IMMEDIATE``).
    """
    conn = uow.conn
    if not is_postgres(conn.engine) or not keys:
        return
    numbers = sorted(
        {
            int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big", signed=True)
            for k in keys
        }
    )
    conn.execute(
        text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"),
        {"keys": numbers},
    )


def _resources(uow: UnitOfWork) -> Connection:
    """The connection for a query of the resource tables: what the unit keeps is inserted first."""
    uow.flush()
    return uow.conn


def patient_records(uow: UnitOfWork, patient: str) -> list[dict[str, Any]]:
    """The patient's medicines, conditions and flags held here ("Patient/<id>"), oldest first (this
    unit's included)."""
    tenants = uow.tenants
    rows = (
        _resources(uow)
        .execute(
            select(R.c.content)
            .where(
                R.c.patient == patient,
                R.c.resource_type.in_(RECORD_TYPES),
                visible_rows(tenants),
                R.c.deleted.is_(False),
            )
            .order_by(R.c.last_updated, R.c.id)
        )
        .all()
    )
    return [orjson.loads(row.content) for row in rows]


def _nhs_number_candidates(conn: Connection, nhs_number: str) -> list[str]:
    """The ids of every Patient (any practice, deleted too) whose current version has this NHS number."""
    found = conn.execute(
        select(X.c.resource_id).where(
            X.c.resource_type == "Patient",
            X.c.param == "identifier",
            X.c.value == nhs_number,
            X.c.system == NHS_NUMBER_SYSTEM,
        )
    )
    return sorted(set(found.scalars().all()))


def patient_with_nhs_number(uow: UnitOfWork, nhs_number: str) -> str | None:
    """The id of the patient held here with this NHS number, if any.

    Two lookups, each with one right index whatever the planner knows: the search index by (type,
    param, value), then those few resources by primary key. As one join, PostgreSQL without fresh
    statistics (a young database, before autovacuum has analysed it) walked every patient of the
    practice and probed the index for each: linear in the practice's patients, on every intake.

    A practice holds one Patient per NHS number (a second is refused, `nhs_number_taken`), but one
    written before that rule may hold two: then the one created first, whatever was updated since
    (the same answer every time; its version 1 in the history, then its id).
    """
    conn, tenants = _resources(uow), uow.tenants
    candidates = _nhs_number_candidates(conn, nhs_number)
    if not candidates:
        return None
    held = (
        conn.execute(
            select(R.c.id).where(
                R.c.resource_type == "Patient",
                R.c.id.in_(candidates),
                visible_rows(tenants),
                R.c.deleted.is_(False),
            )
        )
        .scalars()
        .all()
    )
    if len(held) < 2:
        return str(held[0]) if held else None
    first = conn.execute(
        select(H.c.id)
        .where(H.c.resource_type == "Patient", H.c.id.in_(sorted(held)), H.c.version_id == 1)
        .order_by(H.c.last_updated, H.c.id)
        .limit(1)
    ).scalar_one()
    return str(first)


def nhs_number_taken(uow: UnitOfWork, patient_id: str, nhs_number: str) -> bool:
    """Whether another Patient (not deleted) of the practice that holds ``patient_id`` has this NHS number.

    Whatever the caller may see: one practice keeps one record per patient."""
    conn = _resources(uow)
    others = [c for c in _nhs_number_candidates(conn, nhs_number) if c != patient_id]
    if not others:
        return False
    practice = select(R.c.practice).where(R.c.resource_type == "Patient", R.c.id == patient_id)
    row = conn.execute(
        select(R.c.id)
        .where(
            R.c.resource_type == "Patient",
            R.c.id.in_(others),
            R.c.practice == practice.scalar_subquery(),
            R.c.deleted.is_(False),
        )
        .limit(1)
    ).first()
    return row is not None


def workflow_task(uow: UnitOfWork, service_request_id: str) -> dict[str, Any] | None:
    """The workflow Task whose focus is the referral, if it has one."""
    found = uow.search("Task", [("focus", f"ServiceRequest/{service_request_id}")], count=1)
    return found.resources[0] if found.resources else None


def version_before(uow: UnitOfWork, resource: dict[str, Any]) -> dict[str, Any]:
    """The version of a stored resource before this one."""
    version = int(resource["meta"]["versionId"]) - 1
    store = uow.kernel.store
    return store.vread(
        _resources(uow), resource["resourceType"], resource["id"], version, tenants=uow.tenants
    )


# ---- enrolments -------------------------------------------------------------------------------
def enrolled(uow: UnitOfWork, patient: str, episode: str, at: datetime) -> None:
    """The patient ("Patient/<id>") enrolled with the unit's practice: its staff see the patient's data."""
    record_enrolment(uow.conn, practice=uow.practice, patient=patient, episode=episode, enrolled_at=at)


def discharged(uow: UnitOfWork, patient: str, episode: str, at: datetime) -> None:
    record_discharge(uow.conn, practice=uow.practice, patient=patient, episode=episode, discharged_at=at)


# ---- BaRS messages ----------------------------------------------------------------------------
M = bars_message.c


# The messages recorded in each open transaction, by ServiceRequest id: what `latest_message` answers
# for a referral this transaction's message changed (its own header, whatever the timestamps say).
_recorded: weakref.WeakKeyDictionary[Connection, dict[str, HeldMessage]] = weakref.WeakKeyDictionary()


def message_seen(uow: UnitOfWork, message_id: str) -> bool:
    row = uow.conn.execute(select(M.message_id).where(M.practice == uow.practice, M.message_id == message_id))
    return row.first() is not None


def record_message(uow: UnitOfWork, service_request_id: str, message: HeldMessage) -> None:
    sent_at = message.sent_at.astimezone(UTC) if message.sent_at is not None else None
    _recorded.setdefault(uow.conn, {})[service_request_id] = message
    uow.conn.execute(
        insert(bars_message).values(
            practice=uow.practice,
            message_id=message.message_id,
            reason=message.reason,
            service_request_id=service_request_id,
            sent_at=sent_at,
            received_at=now_instant(),
            header=orjson.dumps(message.header).decode(),
        )
    )


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; we only ever store aware ones (UTC or the sender's offset).
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _held(row: Any) -> HeldMessage:
    return HeldMessage(row.message_id, row.reason, _aware(row.sent_at), orjson.loads(row.header))


def held_message(uow: UnitOfWork, message_id: str) -> HeldMessage | None:
    query = select(bars_message).where(M.practice == uow.practice, M.message_id == message_id)
    row = uow.conn.execute(query).first()
    return _held(row) if row is not None else None


def referral_of_message(uow: UnitOfWork, message_id: str) -> str | None:
    """The id of the ServiceRequest a message the unit's practice sent was stored as, or None."""
    row = uow.conn.execute(
        select(M.service_request_id).where(M.practice == uow.practice, M.message_id == message_id)
    ).first()
    return str(row[0]) if row is not None else None


def latest_sent_at(uow: UnitOfWork, service_request_id: str) -> datetime | None:
    """The newest ``Bundle.timestamp`` among the messages held about a referral (None when none had one:
    a REST referral, or records kept from before the timestamp was required, which do not count)."""
    newest = uow.conn.execute(
        select(func.max(M.sent_at)).where(
            M.service_request_id == service_request_id,
            M.practice.in_(list(uow.tenants)),
            M.sent_at.is_not(None),
        )
    ).scalar_one()
    return _aware(newest)


def latest_message(uow: UnitOfWork, service_request_id: str) -> HeldMessage | None:
    """The message this transaction recorded about a referral, else the newest held (by its own
    timestamp), or None for a REST referral."""
    if (recorded := _recorded.get(uow.conn, {}).get(service_request_id)) is not None:
        return recorded
    row = uow.conn.execute(
        select(bars_message)
        .where(M.service_request_id == service_request_id, M.practice.in_(list(uow.tenants)))
        .order_by(func.coalesce(M.sent_at, M.received_at).desc())
        .limit(1)
    ).first()
    return _held(row) if row is not None else None


# ---- the sender's resource ids --------------------------------------------------------------
S = bars_resource.c


def sender_ids(uow: UnitOfWork, urls: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Sender fullUrl -> (resource type, our id) for the urls a previous message already carried."""
    wanted = list(urls)
    if not wanted:
        return {}
    rows = uow.conn.execute(
        select(S.sender_url, S.resource_type, S.resource_id).where(
            S.practice == uow.practice, S.sender_url.in_(wanted)
        )
    ).all()
    return {row.sender_url: (row.resource_type, row.resource_id) for row in rows}


def record_sender_ids(uow: UnitOfWork, ids: dict[str, tuple[str, str]]) -> None:
    if ids:
        uow.conn.execute(
            insert(bars_resource),
            [
                {"practice": uow.practice, "sender_url": url, "resource_type": kind, "resource_id": rid}
                for url, (kind, rid) in ids.items()
            ],
        )


# ---- invitation templates -------------------------------------------------------------------
T = invitation_template.c


def stored_template(uow: UnitOfWork, practice: str) -> tuple[str, dict[str, str]] | None:
    row = uow.conn.execute(select(T.template, T.details).where(T.practice == practice)).first()
    return (row.template, orjson.loads(row.details)) if row is not None else None


def save_template(uow: UnitOfWork, practice: str, template: str, details: dict[str, str]) -> None:
    values = {"template": template, "details": orjson.dumps(details).decode(), "updated_at": now_instant()}
    changed = uow.conn.execute(update(invitation_template).where(T.practice == practice).values(values))
    if changed.rowcount == 0:
        uow.conn.execute(insert(invitation_template).values(practice=practice, **values))
