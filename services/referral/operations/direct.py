"""GP direct REST: ``POST /fhir/ServiceRequest`` starts the same workflow as a BaRS message.

The kernel's write hook for ServiceRequest, run inside the write's own transaction: a create starts
the workflow (Task, ``referral.received``, triage); an update that revokes the referral, or a delete,
withdraws it (only while active and before enrolment); a referral's patient cannot change, and a
withdrawn referral cannot be made active again.

The write hook for Patient keeps one Patient per NHS number at a practice: a create or update that would
give a second Patient of the practice an NHS number another holds is refused (409 duplicate).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from services.referral import repository
from services.referral.fhir_mapping import owner_practice
from services.referral.operations.intake import start_workflow
from services.referral.operations.triage import WITHDRAWN, cancel, records_held
from shared.fhir import (
    NHS_NUMBER_SYSTEM,
    Conflict,
    FhirKernel,
    Gone,
    NotFound,
    RequestContext,
    UnitOfWork,
    Unprocessable,
    WriteHook,
    nhs_number_of,
    now_instant,
)

__all__ = ["patient_hook", "service_request_hook"]


def _patient(uow: UnitOfWork, subject: str) -> dict[str, Any]:
    if not subject.startswith("Patient/"):
        raise Unprocessable("A referral's subject must be a Patient", expression=["ServiceRequest.subject"])
    try:
        return uow.read(subject)
    except (NotFound, Gone) as exc:
        raise Unprocessable(
            f"The referral's subject {subject} is not a patient held here: create the Patient first",
            expression=["ServiceRequest.subject"],
        ) from exc


def _finish(uow: UnitOfWork, activity: str) -> None:
    uow.sign(activity)
    uow.flush()


def service_request_hook(kernel: FhirKernel) -> WriteHook:
    """The hook runs in the REST write's own transaction (the kernel claims, writes and audits): the
    workflow's writes go through a batched unit of work on it, inserted and signed before it returns."""

    def hook(conn: Connection, ctx: RequestContext, stored: dict[str, Any], interaction: str) -> None:
        now = now_instant()
        subject = str((stored.get("subject") or {}).get("reference", ""))
        uow = UnitOfWork(kernel, conn, ctx, batched=True)
        if interaction == "create":
            patient = _patient(uow, subject)
            start_workflow(uow, stored, patient, now, records_held(uow, f"Patient/{patient['id']}"))
            _finish(uow, "CREATE")
            return
        task = repository.workflow_task(uow, stored["id"])
        if task is None:
            return
        uow = uow.owned_by(owner_practice(task))
        if interaction == "delete":
            if stored.get("status") == "active":
                cancel(uow, "active", task, "entered-in-error", now)
            _finish(uow, "UPDATE")
            return
        before = repository.version_before(uow, stored)
        if subject != before["subject"].get("reference"):
            raise Unprocessable("A referral's patient cannot change", expression=["ServiceRequest.subject"])
        status, held = stored.get("status"), before.get("status")
        if status in WITHDRAWN and status != held:
            cancel(uow, str(held), task, str(status), now)
        elif held != "active" and status == "active":
            raise Unprocessable(f"A {held} referral cannot be made active again: send a new referral")
        _finish(uow, "UPDATE")

    return hook


def patient_hook(kernel: FhirKernel) -> WriteHook:
    """A practice holds one Patient per NHS number: intake finds the patient by it, and two records of
    one person would split their medicines between them. Checked after the write, under the lock intake
    takes for the number, so two writes of one number at once take turns and the second sees the first."""

    def hook(conn: Connection, ctx: RequestContext, stored: dict[str, Any], interaction: str) -> None:
        number = nhs_number_of(stored)
        if interaction == "delete" or number is None:
            return
        uow = UnitOfWork(kernel, conn, ctx)
        practice = uow.practice_of(f"Patient/{stored['id']}") or uow.practice
        repository.lock(uow, f"{practice}|nhs|{number}")
        if repository.nhs_number_taken(uow, stored["id"], number):
            where = next(
                i for i, found in enumerate(stored["identifier"]) if found.get("system") == NHS_NUMBER_SYSTEM
            )
            raise Conflict(
                "Another Patient of this practice has this NHS number: update that one instead",
                issue_code="duplicate",
                expression=[f"Patient.identifier[{where}].value"],
            )

    return hook
