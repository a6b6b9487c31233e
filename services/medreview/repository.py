"""All of medreview's queries, over the kernel's versioned, tenant-filtered FHIR store.

medreview keeps its state as FHIR resources (no tables of its own): the patient's synced medication list is a
``List`` (code ``medications``) whose entries are the stored MedicationRequest / MedicationStatement /
Medication resources; reviews are Observations and DetectedIssues; taper plans are CarePlans; approvals are
Tasks. Every read takes the tenants (practice ODS codes) it may see.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from services.medreview.fhir_mapping.codes import (
    CAREPLAN_CATEGORY,
    MEDICATION_REVIEW,
    OBSERVATION_CODES,
    TASK_ID_SYSTEM,
    TOTAL_DAILY_OME,
)
from shared.core.principal import Tenancy
from shared.fhir import (
    FhirError,
    NotFound,
    ResourceStore,
    SearchParams,
    UnitOfWork,
    resource_table,
)

__all__ = ["MAX_ROWS", "MedreviewRepository", "medreview_search_params", "repository"]

MAX_ROWS = 1000  # a patient's medication list or plans never come near this
OPEN_PLAN_STATUSES = ("draft", "active", "on-hold")


def medreview_search_params() -> SearchParams:
    """The standard parameters, and the medication list's: a FHIR List, served read-only, searchable
    by patient, code, status and date."""
    params = SearchParams.standard()
    params.add("List", "patient", "reference", "subject")
    params.add("List", "subject", "reference", "subject")
    params.add("List", "code", "token", "code")
    params.add("List", "status", "token", "status")
    params.add("List", "date", "date", "date")
    return params


class MedreviewRepository:
    """Queries over the kernel's FHIR store (writes go through the kernel's unit of work)."""

    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    # ---- generic ------------------------------------------------------------------------------
    def search(
        self,
        conn: Connection,
        resource_type: str,
        params: Iterable[tuple[str, str]],
        tenants: Tenancy,
    ) -> list[dict[str, Any]]:
        """Every match (up to :data:`MAX_ROWS`), most recently updated first."""
        request = self.store.query(resource_type, params, count=MAX_ROWS)
        return self.store.search(conn, request, tenants=tenants).resources

    def read(self, conn: Connection, reference: str, tenants: Tenancy) -> dict[str, Any]:
        """The resource ``Type/id`` refers to; 404 when it is not known to these tenants (410 deleted)."""
        resource_type, _, resource_id = reference.partition("/")
        if not resource_type or not resource_id:
            raise NotFound(f"'{reference}' is not a Type/id reference")
        return self.store.read(conn, resource_type, resource_id, tenants=tenants)

    def find(self, conn: Connection, reference: str, tenants: Tenancy) -> dict[str, Any] | None:
        """Like :meth:`read`, ``None`` when it is not there (or deleted)."""
        try:
            return self.read(conn, reference, tenants)
        except FhirError:
            return None

    def owner_of(
        self, conn: Connection, resource_type: str, resource_id: str
    ) -> tuple[str, str | None] | None:
        """(practice, patient) of an id, whoever owns it: only to avoid reusing another's id, never shown."""
        row = conn.execute(
            select(resource_table.c.practice, resource_table.c.patient).where(
                resource_table.c.resource_type == resource_type, resource_table.c.id == resource_id
            )
        ).first()
        return (str(row.practice), row.patient) if row else None

    # ---- the medication list ------------------------------------------------------------------
    def medication_list(self, conn: Connection, patient: str, tenants: Tenancy) -> dict[str, Any] | None:
        """The patient's current synced medication List, if the patient is known here."""
        found = self.search(
            conn, "List", [("patient", patient), ("code", "medications"), ("status", "current")], tenants
        )
        return found[0] if found else None

    def patient_medications(self, conn: Connection, patient: str, tenants: Tenancy) -> list[dict[str, Any]]:
        """Every stored MedicationRequest and MedicationStatement of the patient."""
        return [
            *self.search(conn, "MedicationRequest", [("patient", patient)], tenants),
            *self.search(conn, "MedicationStatement", [("patient", patient)], tenants),
        ]

    def medications(
        self, conn: Connection, resources: Sequence[dict[str, Any]], tenants: Tenancy
    ) -> dict[str, dict[str, Any]]:
        """The Medication resources the given resources refer to, by ``Medication/id``."""
        refs = {
            str((r.get("medicationReference") or {}).get("reference", ""))
            for r in resources
            if str((r.get("medicationReference") or {}).get("reference", "")).startswith("Medication/")
        }
        found = {ref: self.find(conn, ref, tenants) for ref in sorted(refs)}
        return {ref: resource for ref, resource in found.items() if resource is not None}

    # ---- reviews, plans and tasks -------------------------------------------------------------
    def ome_trend(self, conn: Connection, patient: str, tenants: Tenancy) -> list[dict[str, Any]]:
        """The patient's total daily OME Observations, oldest first."""
        found = self.search(
            conn,
            "Observation",
            [("patient", patient), ("code", f"{OBSERVATION_CODES}|{TOTAL_DAILY_OME}")],
            tenants,
        )
        return sorted(found, key=lambda o: (str(o.get("effectiveDateTime", "")), o["meta"]["lastUpdated"]))

    def taper_plans(
        self,
        conn: Connection,
        patient: str,
        tenants: Tenancy,
        statuses: Sequence[str] = OPEN_PLAN_STATUSES,
    ) -> list[dict[str, Any]]:
        """The patient's taper CarePlans in ``statuses``, most recently changed first."""
        return self.search(
            conn,
            "CarePlan",
            [
                ("patient", patient),
                ("category", f"{CAREPLAN_CATEGORY}|{MEDICATION_REVIEW}"),
                ("status", ",".join(statuses)),
            ],
            tenants,
        )

    def task(self, conn: Connection, identifier: str, tenants: Tenancy) -> dict[str, Any] | None:
        """Our Task with this identifier value."""
        found = self.search(conn, "Task", [("identifier", f"{TASK_ID_SYSTEM}|{identifier}")], tenants)
        return found[0] if found else None

    def open_tasks(self, conn: Connection, focus: str, tenants: Tenancy) -> list[dict[str, Any]]:
        """Tasks about ``focus`` the practice has not answered yet."""
        return self.search(
            conn,
            "Task",
            [("focus", focus), ("status", "draft,requested,received,accepted,ready,in-progress,on-hold")],
            tenants,
        )

    def practices_with(self, conn: Connection, resource_type: str) -> list[str]:
        """Every practice holding a resource of ``resource_type`` (a sweep across practices, by the service
        itself: each practice's resources are then read with that practice as the only tenant)."""
        rows = conn.execute(
            select(resource_table.c.practice)
            .where(resource_table.c.resource_type == resource_type)
            .distinct()
            .order_by(resource_table.c.practice)
        ).all()
        return [str(r.practice) for r in rows]


def repository(uow: UnitOfWork) -> MedreviewRepository:
    """The queries over the store of ``uow``'s kernel (``uow.conn`` and ``uow.tenants`` go with each)."""
    return MedreviewRepository(uow.kernel.store)
