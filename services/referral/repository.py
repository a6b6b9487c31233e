"""Every query of the referral service: the kernel store for FHIR resources, its own tables beside it.

All functions take the caller's open connection (one transaction per request or event) and the
practices the caller may touch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, text, update

from services.referral.tables import bars_message, bars_resource, invitation_template
from shared.core.principal import Tenancy
from shared.db import is_postgres
from shared.fhir import (
    NHS_NUMBER_SYSTEM,
    ResourceStore,
    now_instant,
    resource_table,
    search_index_table,
    visible_rows,
)

__all__ = [
    "RECORD_TYPES",
    "HeldMessage",
    "held_message",
    "latest_message",
    "lock",
    "message_seen",
    "patient_records",
    "patient_with_nhs_number",
    "record_message",
    "record_sender_ids",
    "save_template",
    "sender_ids",
    "stored_template",
    "workflow_task",
]

RECORD_TYPES = ("MedicationRequest", "MedicationStatement", "Condition", "Flag")
R = resource_table
X = search_index_table


@dataclass(frozen=True)
class HeldMessage:
    message_id: str
    reason: str
    sent_at: datetime | None
    header: dict[str, Any]


def lock(conn: Connection, *keys: str) -> None:
    """Serialise transactions touching the same keys (a patient's NHS number, a referral, a message).

    PostgreSQL: transaction-scoped advisory locks, taken in a fixed order. SQLite needs none: its
    writers already take the database lock when they begin (``BEGIN IMMEDIATE``).
    """
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


def patient_records(conn: Connection, patient: str, tenants: Tenancy) -> list[dict[str, Any]]:
    """The patient's medicines, conditions and flags held here ("Patient/<id>"), oldest first."""
    rows = conn.execute(
        select(R.c.content)
        .where(
            R.c.patient == patient,
            R.c.resource_type.in_(RECORD_TYPES),
            visible_rows(tenants),
            R.c.deleted.is_(False),
        )
        .order_by(R.c.last_updated, R.c.id)
    ).all()
    return [orjson.loads(row.content) for row in rows]


def patient_with_nhs_number(conn: Connection, nhs_number: str, tenants: Tenancy) -> str | None:
    """The id of the patient held here with this NHS number, if any.

    Two lookups, each with one right index whatever the planner knows: the search index by (type,
    param, value), then those few resources by primary key. As one join, PostgreSQL without fresh
    statistics (a young database, before autovacuum has analysed it) walked every patient of the
    practice and probed the index for each: linear in the practice's patients, on every intake.
    """
    candidates = (
        conn.execute(
            select(X.c.resource_id).where(
                X.c.resource_type == "Patient",
                X.c.param == "identifier",
                X.c.value == nhs_number,
                X.c.system == NHS_NUMBER_SYSTEM,
            )
        )
        .scalars()
        .all()
    )
    if not candidates:
        return None
    row = conn.execute(
        select(R.c.id)
        .where(
            R.c.resource_type == "Patient",
            R.c.id.in_(sorted(set(candidates))),
            visible_rows(tenants),
            R.c.deleted.is_(False),
        )
        .order_by(R.c.last_updated)
        .limit(1)
    ).first()
    return str(row.id) if row is not None else None


def workflow_task(
    conn: Connection, store: ResourceStore, service_request_id: str, tenants: Tenancy
) -> dict[str, Any] | None:
    """The workflow Task whose focus is the referral, if it has one."""
    query = store.query("Task", [("focus", f"ServiceRequest/{service_request_id}")], count=1)
    found = store.search(conn, query, tenants=tenants)
    return found.resources[0] if found.resources else None


# ---- BaRS messages ----------------------------------------------------------------------------
M = bars_message.c


def message_seen(conn: Connection, practice: str, message_id: str) -> bool:
    row = conn.execute(select(M.message_id).where(M.practice == practice, M.message_id == message_id))
    return row.first() is not None


def record_message(conn: Connection, practice: str, service_request_id: str, message: HeldMessage) -> None:
    sent_at = message.sent_at.astimezone(UTC) if message.sent_at is not None else None
    conn.execute(
        insert(bars_message).values(
            practice=practice,
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


def held_message(conn: Connection, practice: str, message_id: str) -> HeldMessage | None:
    row = conn.execute(select(bars_message).where(M.practice == practice, M.message_id == message_id)).first()
    return _held(row) if row is not None else None


def referral_of_message(conn: Connection, practice: str, message_id: str) -> str | None:
    """The id of the ServiceRequest a message this practice sent was stored as, or None."""
    row = conn.execute(
        select(M.service_request_id).where(M.practice == practice, M.message_id == message_id)
    ).first()
    return str(row[0]) if row is not None else None


def latest_message(conn: Connection, service_request_id: str, tenants: Tenancy) -> HeldMessage | None:
    """The newest message held about a referral (by its own timestamp), or None for a REST referral."""
    row = conn.execute(
        select(bars_message)
        .where(M.service_request_id == service_request_id, M.practice.in_(list(tenants)))
        .order_by(func.coalesce(M.sent_at, M.received_at).desc())
        .limit(1)
    ).first()
    return _held(row) if row is not None else None


# ---- the sender's resource ids --------------------------------------------------------------
S = bars_resource.c


def sender_ids(conn: Connection, practice: str, urls: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Sender fullUrl -> (resource type, our id) for the urls a previous message already carried."""
    wanted = list(urls)
    if not wanted:
        return {}
    rows = conn.execute(
        select(S.sender_url, S.resource_type, S.resource_id).where(
            S.practice == practice, S.sender_url.in_(wanted)
        )
    ).all()
    return {row.sender_url: (row.resource_type, row.resource_id) for row in rows}


def record_sender_ids(conn: Connection, practice: str, ids: dict[str, tuple[str, str]]) -> None:
    if ids:
        conn.execute(
            insert(bars_resource),
            [
                {"practice": practice, "sender_url": url, "resource_type": kind, "resource_id": rid}
                for url, (kind, rid) in ids.items()
            ],
        )


# ---- invitation templates -------------------------------------------------------------------
T = invitation_template.c


def stored_template(conn: Connection, practice: str) -> tuple[str, dict[str, str]] | None:
    row = conn.execute(select(T.template, T.details).where(T.practice == practice)).first()
    return (row.template, orjson.loads(row.details)) if row is not None else None


def save_template(conn: Connection, practice: str, template: str, details: dict[str, str]) -> None:
    values = {"template": template, "details": orjson.dumps(details).decode(), "updated_at": now_instant()}
    changed = conn.execute(update(invitation_template).where(T.practice == practice).values(values))
    if changed.rowcount == 0:
        conn.execute(insert(invitation_template).values(practice=practice, **values))
