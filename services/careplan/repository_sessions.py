"""Queries for sessions and the monthly MDT, filtered by the practices given."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from services.careplan.mdt import Review
from services.careplan.sessions import FORMAT_EXTENSION
from services.careplan.tables import medication_review
from shared.core.principal import Tenancy
from shared.fhir import resource_table, search_index_table, visible_rows

__all__ = [
    "is_session",
    "medication_reviews",
    "record_medication_review",
    "slot_appointments",
]

R = resource_table
INDEX = search_index_table
MR = medication_review


def is_session(appointment: dict[str, Any]) -> bool:
    """A session's Appointment (booked for a Slot), not an MDT review."""
    return bool(appointment.get("slot")) or any(
        e.get("url") == FORMAT_EXTENSION for e in appointment.get("extension") or ()
    )


def slot_appointments(conn: Connection, slot_id: str, tenants: Tenancy) -> list[dict[str, Any]]:
    """Every current Appointment booked for ``Slot/<slot_id>`` (any status), through the search index
    (``Appointment.slot``, registered by the sessions operations)."""
    booked = select(INDEX.c.resource_id).where(
        INDEX.c.resource_type == "Appointment", INDEX.c.param == "slot", INDEX.c.value == f"Slot/{slot_id}"
    )
    rows = conn.execute(
        select(R.c.content).where(
            R.c.resource_type == "Appointment",
            R.c.id.in_(booked),
            visible_rows(tenants),
            R.c.deleted.is_(False),
        )
    )
    return [orjson.loads(row.content) for row in rows]


def record_medication_review(
    conn: Connection,
    *,
    practice: str,
    patient: str,
    review: str,
    reviewed_at: datetime,
    total: Decimal | None,
    lower_bound: bool,
    flags: Iterable[str],
) -> bool:
    """Keep one row per review (``Observation/<id>``); returns whether it was new."""
    if conn.execute(select(MR.c.id).where(MR.c.review == review)).first() is not None:
        return False
    conn.execute(
        insert(MR).values(
            practice=practice,
            patient=patient,
            review=review,
            reviewed_at=reviewed_at,
            total_ome=total,
            lower_bound=lower_bound,
            flags=" ".join(sorted(set(flags)))[:400],
        )
    )
    return True


def medication_reviews(
    conn: Connection, tenants: Tenancy, patients: Iterable[str]
) -> dict[str, list[Review]]:
    """Each patient's medication reviews in time order (the practices ``tenants``)."""
    wanted = sorted(set(patients))
    found: dict[str, list[Review]] = {p: [] for p in wanted}
    if not wanted:
        return found
    rows = conn.execute(
        select(MR.c.patient, MR.c.reviewed_at, MR.c.total_ome, MR.c.lower_bound, MR.c.flags)
        .where(MR.c.practice.in_(sorted(tenants)), MR.c.patient.in_(wanted))
        .order_by(MR.c.reviewed_at, MR.c.id)
    )
    for row in rows:
        when = row.reviewed_at if row.reviewed_at.tzinfo else row.reviewed_at.replace(tzinfo=UTC)
        total = None if row.total_ome is None else Decimal(row.total_ome)
        flags = frozenset(str(row.flags).split())
        found[str(row.patient)].append(Review(when, total, bool(row.lower_bound), flags))
    return found
