"""GP direct REST: ``POST /fhir/ServiceRequest`` starts the same workflow as a BaRS message.

The kernel's write hook for ServiceRequest, run inside the write's own transaction: a create starts
the workflow (Task, ``referral.received``, triage); an update that revokes the referral, or a delete,
withdraws it (only while active and before enrolment); a referral's patient cannot change, and a
withdrawn referral cannot be made active again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from services.referral import repository
from services.referral.fhir_mapping import owner_practice
from services.referral.operations.intake import start_workflow
from services.referral.operations.triage import WITHDRAWN, cancel, records_held
from shared.fhir import (
    FhirKernel,
    Gone,
    NotFound,
    RequestContext,
    UnitOfWork,
    Unprocessable,
    WriteHook,
    now_instant,
)

__all__ = ["service_request_hook"]


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
