"""The one tenancy filter every query of the kernel tables goes through, and the enrolments it reads.

A caller's tenants (``Tenancy``, from ``Principal.tenants``) are practice ODS codes. Every row is filed
under one practice; a caller sees the rows of its tenants. Service staff (``Tenancy.enrolled_only``) see
less: a resource that belongs to a patient (``fhir_resource.patient``, a Patient's own reference for a
Patient) only while that patient is enrolled, and not discharged, with one of the tenants
(``fhir_enrolment``); resources without a patient (Organization, PlanDefinition, CodeSystem...) by
practice alone. History rows carry no patient: they follow their resource's current row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, exists, insert, or_, select, true, update

from shared.core.errors import NotFound
from shared.core.principal import UNAUTHENTICATED_TENANT, Tenancy
from shared.fhir.searchparams import patient_of
from shared.fhir.tables import enrolment_table, history_table, resource_table
from shared.fhir.values import carried_resources

__all__ = [
    "UNAUTHENTICATED_TENANT",
    "Tenancy",
    "check_writable",
    "enrolled_only",
    "history_visible",
    "is_enrolled",
    "owner_practice",
    "practice_of",
    "record_discharge",
    "record_enrolment",
    "record_enrolment_event",
    "visible_rows",
]

R = resource_table
H = history_table
E = enrolment_table


def enrolled_only(tenants: Tenancy) -> bool:
    """Whether these tenants see only enrolled patients' data (service staff).

    Only a ``Tenancy`` says so: a plain set of practices has lost the flag (``frozenset(t)``, a list
    comprehension), and reading it as whole-practice would show staff every patient. So it is refused
    here, where every read's filter starts, rather than trusted; mypy catches the same at call sites.
    """
    if not isinstance(tenants, Tenancy):
        raise TypeError(f"tenants must be a Tenancy (Tenancy.of keeps the staff flag), not {type(tenants)}")
    return tenants.enrolled_only


def _enrolled(patient: Any, tenants: Tenancy) -> ColumnElement[bool]:
    return exists().where(
        E.c.patient == patient, E.c.practice.in_(sorted(tenants)), E.c.discharged_at.is_(None)
    )


def visible_rows(tenants: Tenancy, table: Table = R) -> ColumnElement[bool]:
    """The rows of ``table`` (default the kernel's ``fhir_resource``; any table with ``practice`` and
    ``patient`` columns) that ``tenants`` may see."""
    in_practice = table.c.practice.in_(sorted(tenants))
    if not enrolled_only(tenants):
        return in_practice
    patient = table.c.patient
    return and_(in_practice, or_(patient.is_(None), _enrolled(patient, tenants)))


def history_visible(tenants: Tenancy) -> ColumnElement[bool]:
    """The ``fhir_resource_history`` rows ``tenants`` may see: staff only while the current row is seen."""
    in_practice = H.c.practice.in_(sorted(tenants))
    if not enrolled_only(tenants):
        return in_practice
    current = exists().where(
        R.c.resource_type == H.c.resource_type,
        R.c.id == H.c.id,
        or_(R.c.patient.is_(None), _enrolled(R.c.patient, tenants)),
    )
    return and_(in_practice, current)


def is_enrolled(conn: Connection, patient: str, tenants: Tenancy) -> bool:
    """Whether ``patient`` ("Patient/<id>") is enrolled, and not discharged, with one of ``tenants``."""
    return bool(conn.execute(select(true()).where(_enrolled(patient, tenants))).first())


def check_writable(
    conn: Connection,
    tenants: Tenancy,
    resource_type: str,
    resource_id: str | None,
    resource: dict[str, Any] | None = None,
) -> None:
    """Refuse (404, as for another practice's data) a staff write to a resource they cannot see, or one
    that would belong to a patient not enrolled with their practices; anyone else passes."""
    if not enrolled_only(tenants):
        return
    if resource_id is not None:
        current = conn.execute(
            select(R.c.patient, R.c.practice).where(R.c.resource_type == resource_type, R.c.id == resource_id)
        ).first()
        hidden = (
            current is not None
            and current.practice in tenants
            and current.patient is not None
            and not is_enrolled(conn, current.patient, tenants)
        )
        if hidden:
            raise NotFound(f"{resource_type}/{resource_id} is not known")
    patient = patient_of(resource) if resource is not None else None
    if patient is not None and not is_enrolled(conn, patient, tenants):
        raise NotFound(f"{patient} is not known")


def practice_of(conn: Connection, tenants: Tenancy, reference: str) -> str | None:
    """The practice a stored resource ("Type/id") is filed under, among ``tenants`` (``None`` when none of
    them holds it, or it is hidden from them).

    A write about a resource is filed under its owner, not the caller's own practice: staff assigned to
    several practices act on each practice's patients on that practice's behalf."""
    resource_type, _, resource_id = reference.partition("/")
    row = conn.execute(
        select(R.c.practice).where(
            R.c.resource_type == resource_type, R.c.id == resource_id, visible_rows(tenants)
        )
    ).first()
    return str(row.practice) if row else None


def owner_practice(conn: Connection, tenants: Tenancy, own: str, resource: dict[str, Any]) -> str:
    """The practice a new ``resource`` is filed under when ``tenants`` (calling from practice ``own``)
    write it: for service staff, the practice the resource's patient is enrolled with (their own when
    the patient is enrolled there too, else the latest open enrolment among ``tenants``), so that a
    specialist working for several practices files a patient's data where that practice's GP sees it;
    for anyone else, and for resources without a patient, ``own``."""
    if not enrolled_only(tenants):
        return own
    patient = patient_of(resource)
    if patient is None:
        return own
    rows = conn.execute(
        select(E.c.practice, E.c.enrolled_at).where(
            E.c.patient == patient, E.c.practice.in_(sorted(tenants)), E.c.discharged_at.is_(None)
        )
    ).all()
    practices = {str(row.practice) for row in rows}
    if not practices or own in practices:
        return own
    latest = max(rows, key=lambda row: (row.enrolled_at is not None, row.enrolled_at or 0, row.practice))
    return str(latest.practice)


def record_enrolment(
    conn: Connection, *, practice: str, patient: str, episode: str, enrolled_at: datetime
) -> None:
    """``patient`` enrolled with ``practice`` for ``episode`` ("EpisodeOfCare/<id>"); a repeat, or an
    enrolment after its discharge was recorded, changes nothing."""
    key = (E.c.practice == practice, E.c.patient == patient, E.c.episode == episode)
    if conn.execute(select(E.c.episode).where(*key)).first() is None:
        conn.execute(
            insert(E).values(practice=practice, patient=patient, episode=episode, enrolled_at=enrolled_at)
        )


def record_discharge(
    conn: Connection, *, practice: str, patient: str, episode: str | None, discharged_at: datetime
) -> None:
    """``patient`` discharged from ``episode`` (every open episode with ``practice`` when None); staff lose
    sight of their data here. A discharge that arrives before its enrolment is kept, so the late
    enrolment does not open it again."""
    open_rows = [E.c.practice == practice, E.c.patient == patient, E.c.discharged_at.is_(None)]
    if episode is not None:
        open_rows.append(E.c.episode == episode)
    conn.execute(update(E).where(*open_rows).values(discharged_at=discharged_at))
    if episode is None:
        return
    key = (E.c.practice == practice, E.c.patient == patient, E.c.episode == episode)
    if conn.execute(select(E.c.episode).where(*key)).first() is None:
        conn.execute(
            insert(E).values(practice=practice, patient=patient, episode=episode, discharged_at=discharged_at)
        )


def _episode_and_patient(data: dict[str, Any]) -> tuple[str | None, str | None]:
    resources = carried_resources(data)
    episode = next((r for r in resources if r.get("resourceType") == "EpisodeOfCare"), {})
    patient = str((episode.get("patient") or {}).get("reference") or "")
    if not patient.startswith("Patient/"):
        found = next((r for r in resources if r.get("resourceType") == "Patient" and r.get("id")), None)
        patient = f"Patient/{found['id']}" if found else ""
    return (f"EpisodeOfCare/{episode['id']}" if episode.get("id") else None), (patient or None)


def record_enrolment_event(
    conn: Connection, *, practice: str, data: dict[str, Any], at: datetime, discharged: bool = False
) -> bool:
    """Record a ``patient.enrolled`` (a Bundle with the EpisodeOfCare and Patient) or, with ``discharged``,
    a ``patient.discharged`` (the EpisodeOfCare) for ``practice``; False when it names no patient."""
    episode, patient = _episode_and_patient(data)
    if patient is None:
        return False
    if discharged:
        record_discharge(conn, practice=practice, patient=patient, episode=episode, discharged_at=at)
    else:
        record_enrolment(conn, practice=practice, patient=patient, episode=episode or patient, enrolled_at=at)
    return True
