"""Every query of the careplan service beyond the kernel's REST routes: plans, referrals, facts.

Reads go straight to the kernel's tables (this service owns its database) and are always filtered by
the practices given; writes of FHIR resources go through the kernel's ``ResourceStore``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select

from services.careplan.activities import received_interventions
from services.careplan.catalogue import CAREPLAN_CATEGORY_SYSTEM, COMMUNITY_STATUS_EXTENSION
from services.careplan.evaluation import EvaluationFacts, OmeReview
from services.careplan.tables import evaluation_fact
from shared.core.principal import Tenancy
from shared.fhir.store import SHARED_TENANT
from shared.fhir.tables import resource_table
from shared.fhir.tenancy import visible_rows

__all__ = [
    "CLOSED_PLAN",
    "evaluation_facts",
    "is_pain_plan",
    "lock",
    "pain_plan_for",
    "pain_plans",
    "patient_resources",
    "record_fact",
]

R = resource_table
F = evaluation_fact
CLOSED_PLAN = frozenset({"completed", "revoked", "entered-in-error"})


def is_pain_plan(plan: dict[str, Any]) -> bool:
    return any(
        c.get("system") == CAREPLAN_CATEGORY_SYSTEM and c.get("code") == "pain-management"
        for category in plan.get("category") or []
        for c in category.get("coding") or []
    )


def _rows(conn: Connection, resource_type: str, tenants: Tenancy, patient: str | None = None) -> list[Any]:
    where = [R.c.resource_type == resource_type, visible_rows(tenants), R.c.deleted.is_(False)]
    if patient is not None:
        where.append(R.c.patient == patient)
    return [orjson.loads(r.content) for r in conn.execute(select(R.c.content).where(*where).order_by(R.c.id))]


def patient_resources(
    conn: Connection, resource_type: str, patient: str, tenants: Tenancy
) -> list[dict[str, Any]]:
    """Every current resource of a type in a patient's compartment (``Patient/<id>``)."""
    return _rows(conn, resource_type, tenants, patient)


def pain_plans(conn: Connection, tenants: Tenancy) -> list[dict[str, Any]]:
    return [p for p in _rows(conn, "CarePlan", tenants) if is_pain_plan(p)]


def pain_plan_for(conn: Connection, patient: str, tenants: Tenancy) -> dict[str, Any] | None:
    """The patient's pain management plan: the open one, else the latest closed one."""
    plans = [p for p in patient_resources(conn, "CarePlan", patient, tenants) if is_pain_plan(p)]
    if not plans:
        return None
    plans.sort(key=lambda p: (p.get("status") not in CLOSED_PLAN, p["meta"]["lastUpdated"]))
    return plans[-1]


def lock(conn: Connection, resource_type: str, resource_id: str) -> None:
    """Hold the resource's row until the transaction ends (PostgreSQL; SQLite serialises writers)."""
    conn.execute(
        select(R.c.version_id)
        .where(R.c.resource_type == resource_type, R.c.id == resource_id)
        .with_for_update()
    )


def record_fact(
    conn: Connection,
    *,
    practice: str,
    kind: str,
    subject: str,
    patient: str | None,
    occurred_at: datetime,
    value: Decimal | None = None,
) -> bool:
    """Keep one fact per (kind, subject); returns whether it was new."""
    exists = conn.execute(select(F.c.id).where(F.c.kind == kind, F.c.subject == subject)).first()
    if exists is not None:
        return False
    conn.execute(
        insert(F).values(
            practice=practice,
            kind=kind,
            subject=subject,
            patient=patient,
            occurred_at=occurred_at,
            value=value,
        )
    )
    return True


def _received_in_community(request: dict[str, Any]) -> bool:
    if request.get("status") == "completed":
        return True
    return any(
        e.get("url") == COMMUNITY_STATUS_EXTENSION
        and (e.get("valueCoding") or {}).get("code") in ("started", "finished")
        for e in request.get("extension") or []
    )


def _local_displays(conn: Connection, tenants: Tenancy) -> dict[tuple[str, str], str]:
    displays: dict[tuple[str, str], str] = {}
    for system in _rows(conn, "CodeSystem", tenants - {SHARED_TENANT}):
        for concept in system.get("concept") or []:
            if system.get("url") and concept.get("code"):
                displays[(system["url"], concept["code"])] = concept.get("display") or concept["code"]
    return displays


def evaluation_facts(conn: Connection, tenants: Tenancy, start: datetime, end: datetime) -> EvaluationFacts:
    """What the evaluation counts for the practices ``tenants`` in [start, end]."""
    in_tenants = F.c.practice.in_(list(tenants))
    first_seen = (
        select(F.c.subject, func.min(F.c.occurred_at).label("first"))
        .where(in_tenants, F.c.kind.in_(("referral-received", "referral-accepted", "referral-rejected")))
        .group_by(F.c.subject)
        .subquery()
    )
    referrals = conn.execute(
        select(func.count()).select_from(first_seen).where(first_seen.c.first.between(start, end))
    ).scalar_one()
    invited = conn.execute(
        select(func.count(func.distinct(F.c.patient))).where(
            in_tenants, F.c.kind == "invited", F.c.occurred_at.between(start, end)
        )
    ).scalar_one()
    enrolled = {
        str(r.patient)
        for r in conn.execute(
            select(F.c.patient).where(in_tenants, F.c.kind == "enrolled", F.c.occurred_at.between(start, end))
        )
        if r.patient
    }
    left = {
        str(r.patient)
        for r in conn.execute(
            select(F.c.patient).where(in_tenants, F.c.kind == "discharged", F.c.occurred_at <= end)
        )
        if r.patient
    }
    received: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for plan in pain_plans(conn, tenants):
        patient = (plan.get("subject") or {}).get("reference")
        if patient in enrolled:
            received[patient] |= received_interventions(plan)
    for request in _rows(conn, "ServiceRequest", tenants):
        patient = (request.get("subject") or {}).get("reference")
        if patient in enrolled and _received_in_community(request):
            received[patient] |= {
                (str(c.get("system")), str(c.get("code")))
                for c in (request.get("code") or {}).get("coding") or []
                if c.get("code")
            }
    reviews: dict[str, list[OmeReview]] = defaultdict(list)
    for row in conn.execute(
        select(F.c.patient, F.c.occurred_at, F.c.value).where(
            in_tenants, F.c.kind == "ome", F.c.occurred_at <= end
        )
    ):
        if row.patient in enrolled:
            value = None if row.value is None else Decimal(row.value)
            reviews[row.patient].append(OmeReview(row.occurred_at.isoformat(), value))
    return EvaluationFacts(
        referrals=int(referrals),
        invited=int(invited),
        enrolled=frozenset(enrolled),
        retained=frozenset(enrolled - left),
        received={p: frozenset(v) for p, v in received.items()},
        local_displays=_local_displays(conn, tenants),
        reviews=reviews,
    )
