"""Every query of the careplan service beyond the kernel's REST routes: plans, referrals, facts.

Reads go straight to the kernel's tables (this service owns its database) and are always filtered by
the practices given; writes of FHIR resources go through the kernel's ``ResourceStore``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select

from services.careplan.domain.acceptability import AcceptabilityError, construct_scores
from services.careplan.domain.activities import received_in_any_version
from services.careplan.domain.assessment import AssessmentError, answers_of, score_assessment
from services.careplan.domain.budget import BudgetError, cost_of, counts_against_budget
from services.careplan.domain.catalogue import (
    ACCEPTABILITY_QUESTIONNAIRE,
    ASSESSMENT_QUESTIONNAIRE,
    CAREPLAN_CATEGORY_SYSTEM,
    COMMUNITY_STATUS_EXTENSION,
)
from services.careplan.domain.evaluation import EvaluationFacts, Session, StaffSession
from services.careplan.domain.mdt import Review
from services.careplan.domain.outcomes import Reading
from services.careplan.domain.sessions import FORMAT_EXTENSION, session_minutes
from services.careplan.tables import evaluation_fact, medication_review
from shared.core.principal import Tenancy
from shared.fhir import (
    SHARED_TENANT,
    history_table,
    history_visible,
    resource_table,
    search_index_table,
    visible_rows,
)

__all__ = [
    "CLOSED_PLAN",
    "evaluation_facts",
    "is_community_request",
    "is_pain_plan",
    "is_session",
    "lock",
    "medication_reviews",
    "pain_plan_for",
    "pain_plans",
    "patient_resources",
    "record_fact",
    "record_medication_review",
    "slot_appointments",
]

R = resource_table
H = history_table
F = evaluation_fact
INDEX = search_index_table
MR = medication_review
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
    note: str | None = None,
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
            note=None if note is None else note[:200],
        )
    )
    return True


def is_community_request(request: dict[str, Any]) -> bool:
    """A community service (social prescribing) referral: the ServiceRequest's careplan category."""
    return any(
        c.get("system") == CAREPLAN_CATEGORY_SYSTEM and c.get("code") == "social-prescribing"
        for category in request.get("category") or []
        for c in category.get("coding") or []
    )


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


def _versions(conn: Connection, resource_type: str, tenants: Tenancy) -> dict[str, list[dict[str, Any]]]:
    """Every stored version of every resource of a type the tenants may see, by id (oldest first)."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    query = (
        select(H.c.id, H.c.content)
        .where(H.c.resource_type == resource_type, history_visible(tenants), H.c.deleted.is_(False))
        .order_by(H.c.id, H.c.version_id)
    )
    for row in conn.execute(query):
        found[str(row.id)].append(orjson.loads(row.content))
    return found


def _day(text: Any) -> date | None:
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _facts(conn: Connection, tenants: Tenancy, kind: str) -> list[Any]:
    return list(
        conn.execute(
            select(F.c.subject, F.c.patient, F.c.occurred_at, F.c.value, F.c.note).where(
                F.c.practice.in_(sorted(tenants)), F.c.kind == kind
            )
        )
    )


def _when(row: Any) -> datetime:
    moment: datetime = row.occurred_at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count_distinct(rows: list[Any], start: datetime, end: datetime, by: str = "patient") -> int:
    return len({getattr(r, by) for r in rows if start <= _when(r) <= end and getattr(r, by)})


def _cohort(
    conn: Connection, tenants: Tenancy, start: datetime, end: datetime
) -> tuple[dict[str, date], dict[str, date], dict[str, date]]:
    """(cohort: patient -> first enrolment start in the period, retained, discharged in the period)."""
    enrolments = _facts(conn, tenants, "enrolled")
    discharges = {str(r.subject): _when(r) for r in _facts(conn, tenants, "discharged")}
    cohort: dict[str, date] = {}
    latest: dict[str, tuple[datetime, str]] = {}
    for row in sorted(enrolments, key=_when):
        if not row.patient:
            continue
        moment = _when(row)
        if start <= moment <= end:
            cohort.setdefault(str(row.patient), moment.date())
        if moment <= end:
            latest[str(row.patient)] = (moment, str(row.subject))
    retained = {
        p: on
        for p, on in cohort.items()
        if not (latest[p][1] in discharges and discharges[latest[p][1]] <= end)
    }
    ended = {subject: on for subject, on in discharges.items() if start <= on <= end}
    return cohort, retained, {s: o.date() for s, o in ended.items()}


def _ome_readings(
    conn: Connection, tenants: Tenancy, cohort: set[str], end: datetime
) -> dict[str, list[Reading]]:
    readings: dict[str, list[Reading]] = defaultdict(list)
    for row in _facts(conn, tenants, "ome"):
        if row.patient in cohort and _when(row) <= end:
            value = None if row.value is None else Decimal(row.value)
            reason = row.note or (None if value is not None else "no figure")
            readings[str(row.patient)].append(Reading(_when(row).date(), value, reason))
    return readings


def _prom_readings(
    conn: Connection, tenants: Tenancy, cohort: set[str], end: datetime
) -> dict[str, dict[str, list[Reading]]]:
    """PEG mean, PHQ-9 and GAD-7 totals of each assessment (QuestionnaireResponse) up to the period's end."""
    proms: dict[str, dict[str, list[Reading]]] = {"peg": {}, "phq-9": {}, "gad-7": {}}
    for response in _rows(conn, "QuestionnaireResponse", tenants):
        patient = (response.get("subject") or {}).get("reference")
        on = _day(response.get("authored"))
        if patient not in cohort or on is None or on > end.date():
            continue
        if str(response.get("questionnaire", "")).split("|")[0] != ASSESSMENT_QUESTIONNAIRE:
            continue
        try:
            scores = score_assessment(answers_of(response.get("item") or []))
        except AssessmentError:
            continue  # refused when written; one stored before the rules is not a score
        for prom, value in (
            ("peg", scores.peg_mean),
            ("phq-9", scores.phq9_total),
            ("gad-7", scores.gad7_total),
        ):
            if value is not None:
                proms[prom].setdefault(str(patient), []).append(Reading(on, Decimal(value)))
    return proms


def _acceptability(
    conn: Connection, tenants: Tenancy, cohort: set[str], start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """Each cohort patient's latest acceptability questionnaire answered in the period, by construct."""
    latest: dict[str, tuple[str, dict[str, int]]] = {}
    for response in _rows(conn, "QuestionnaireResponse", tenants):
        patient = (response.get("subject") or {}).get("reference")
        on = _day(response.get("authored"))
        if patient not in cohort or on is None or not start.date() <= on <= end.date():
            continue
        if str(response.get("questionnaire", "")).split("|")[0] != ACCEPTABILITY_QUESTIONNAIRE:
            continue
        try:
            scores = construct_scores(answers_of(response.get("item") or []))
        except AcceptabilityError:
            continue  # refused when written
        authored = str(response.get("authored"))
        if scores and (patient not in latest or authored > latest[patient][0]):
            latest[str(patient)] = (authored, scores)
    return {patient: scores for patient, (_, scores) in latest.items()}


def _sessions(
    conn: Connection, tenants: Tenancy, cohort: set[str], start: datetime, end: datetime
) -> dict[str, list[Session]]:
    sessions: dict[str, list[Session]] = defaultdict(list)
    for encounter in _rows(conn, "Encounter", tenants):
        patient = (encounter.get("subject") or {}).get("reference")
        on = _day((encounter.get("period") or {}).get("start"))
        if patient in cohort and on is not None and start.date() <= on <= end.date():
            sessions[str(patient)].append(Session(on, str(encounter.get("status"))))
    return sessions


def _staff_sessions(conn: Connection, tenants: Tenancy, start: datetime, end: datetime) -> list[StaffSession]:
    """Every attended session (finished Encounter, any patient) starting in the period, as worker time."""
    slots: dict[str, str] = {}
    for appointment in _rows(conn, "Appointment", tenants):
        for ref in appointment.get("slot") or ():
            if isinstance(ref, dict) and str(ref.get("reference", "")).startswith("Slot/"):
                slots[f"Appointment/{appointment['id']}"] = str(ref["reference"])
                break
    found = []
    where = [R.c.resource_type == "Encounter", visible_rows(tenants), R.c.deleted.is_(False)]
    for row in conn.execute(select(R.c.practice, R.c.content).where(*where).order_by(R.c.id)):
        encounter = orjson.loads(row.content)
        on = _day((encounter.get("period") or {}).get("start"))
        if encounter.get("status") != "finished" or on is None or not start.date() <= on <= end.date():
            continue
        booked = [
            slots[str(a.get("reference"))]
            for a in encounter.get("appointment") or ()
            if isinstance(a, dict) and str(a.get("reference")) in slots
        ]
        session = booked[0] if booked else f"Encounter/{encounter['id']}"
        found.append(StaffSession(str(row.practice), session, session_minutes(encounter)))
    return found


def evaluation_facts(conn: Connection, tenants: Tenancy, start: datetime, end: datetime) -> EvaluationFacts:
    """What the evaluation counts for the practices ``tenants`` in [start, end] (definitions:
    :class:`~services.careplan.evaluation.EvaluationFacts`)."""
    in_tenants = F.c.practice.in_(sorted(tenants))
    first_seen = (
        select(F.c.subject, func.min(F.c.occurred_at).label("first"))
        .where(in_tenants, F.c.kind.in_(("referral-received", "referral-accepted", "referral-rejected")))
        .group_by(F.c.subject)
        .subquery()
    )
    referrals = conn.execute(
        select(func.count()).select_from(first_seen).where(first_seen.c.first.between(start, end))
    ).scalar_one()
    cohort, retained, discharged = _cohort(conn, tenants, start, end)
    patients = set(cohort)
    received: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for versions in _versions(conn, "CarePlan", tenants).values():
        patient = (versions[-1].get("subject") or {}).get("reference")
        if patient in patients and is_pain_plan(versions[-1]):
            received[patient] |= received_in_any_version(versions)
    spent = Decimal("0.00")
    for versions in _versions(conn, "ServiceRequest", tenants).values():
        request = versions[-1]
        patient = (request.get("subject") or {}).get("reference")
        if patient in patients and any(_received_in_community(v) for v in versions):
            received[patient] |= {
                (str(c.get("system")), str(c.get("code")))
                for c in (request.get("code") or {}).get("coding") or []
                if c.get("code")
            }
        authored = _day(request.get("authoredOn"))
        if (
            is_community_request(request)
            and authored is not None
            and start.date() <= authored <= end.date()
            and counts_against_budget(request)
        ):
            with suppress(BudgetError):  # refused when written; an unreadable cost is not spend
                spent += cost_of(request)
    return EvaluationFacts(
        referrals=int(referrals),
        eligible=_count_distinct(_facts(conn, tenants, "referral-accepted"), start, end, by="subject"),
        invited=_count_distinct(_facts(conn, tenants, "invited"), start, end),
        consented=_count_distinct(_facts(conn, tenants, "consented"), start, end),
        enrolled=cohort,
        retained=frozenset(retained),
        discharged=len(discharged),
        received={p: frozenset(v) for p, v in received.items() if v},
        local_displays=_local_displays(conn, tenants),
        ome=_ome_readings(conn, tenants, patients, end),
        proms=_prom_readings(conn, tenants, patients, end),
        sessions=_sessions(conn, tenants, patients, start, end),
        acceptability=_acceptability(conn, tenants, patients, start, end),
        staff=_staff_sessions(conn, tenants, start, end),
        spent=spent,
    )


def prom_readings_of(
    conn: Connection, tenants: Tenancy, patient: str, until: date
) -> dict[str, list[Reading]]:
    """The patient's PEG, PHQ-9 and GAD-7 scores (each assessment's) authored up to the end of ``until``."""
    end = datetime.combine(until, datetime.max.time(), tzinfo=UTC)
    return {
        measure: found.get(patient, [])
        for measure, found in _prom_readings(conn, tenants, {patient}, end).items()
    }


# ---- sessions and the monthly MDT ----------------------------------------------------------------
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
