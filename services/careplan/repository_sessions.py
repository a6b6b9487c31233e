"""Queries for sessions and the monthly MDT, filtered by the practices given."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from services.careplan.sessions import FORMAT_EXTENSION
from shared.core.principal import Tenancy
from shared.fhir.tables import resource_table, search_index_table
from shared.fhir.tenancy import visible_rows

__all__ = ["is_session", "slot_appointments"]

R = resource_table
INDEX = search_index_table


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
