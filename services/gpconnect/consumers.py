"""gpconnect's durable consumers (each names its purpose: it keys the inbox and the broker) and their
handlers, one per consumed event, ``handler(event, uow)``: each records what must reach the GP system as a
delivery row, in the inbox transaction (``uow.conn``). Nothing here calls the network; the delivery worker
does (``delivery/worker.py``)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from services.gpconnect import repository
from services.gpconnect.domain.deliveries import (
    has_attachment,
    nhs_number,
    patient_of,
    prescription_date,
    task_code,
    task_send_on,
)
from shared.contracts import (
    GP_RECORD_READ_REQUESTED_V1,
    GP_TASK_REQUESTED_V1,
    PATIENT_DISCHARGED_V1,
    PATIENT_ENROLLED_V1,
    PRESCRIPTION_CHANGED_V1,
    REFERRAL_ACCEPTED_V1,
    REFERRAL_REJECTED_V1,
    CloudEvent,
    to_json,
)
from shared.fhir import (
    FhirKernel,
    UnitOfWork,
    carried_resources,
    nhs_number_identifier,
    record_enrolment_event,
)
from shared.web import Consumer

__all__ = [
    "consumers",
    "on_patient_discharged",
    "on_patient_enrolled",
    "on_prescription_changed",
    "on_record_read_requested",
    "on_referral_decided",
    "on_task_requested",
    "request_record_read",
]

log = logging.getLogger(__name__)


def _remember(conn: Connection, event: CloudEvent) -> dict[str, Any] | None:
    patient = patient_of(event.data)
    number = nhs_number(patient) if patient else None
    if patient is None or number is None or not patient.get("id"):
        return None
    repository.remember_patient(conn, event.practice, str(patient["id"]), number)
    return patient


def _enqueue(conn: Connection, event: CloudEvent, kind: str, not_before: datetime | None = None) -> bool:
    return repository.enqueue(
        conn,
        key=f"{event.id}:{kind}",
        practice_ods=event.practice,
        kind=kind,
        event_id=event.id,
        event_type=event.type,
        payload=to_json(event).decode(),
        not_before=not_before,
    )


def on_patient_enrolled(event: CloudEvent, uow: UnitOfWork) -> None:
    """Remember the patient's NHS number and read their GP record (medications and problems)."""
    conn = uow.conn
    record_enrolment_event(conn, practice=event.practice, data=event.data, at=event.time)
    if _remember(conn, event) is not None:
        _enqueue(conn, event, "record-read")


def on_patient_discharged(event: CloudEvent, uow: UnitOfWork) -> None:
    """The episode ended: the patient's enrolment here is closed (service staff lose sight of it)."""
    conn = uow.conn
    record_enrolment_event(conn, practice=event.practice, data=event.data, at=event.time, discharged=True)


def request_record_read(uow: UnitOfWork, event: CloudEvent) -> bool:
    """A re-sync asked for through the API: the same delivery as on enrolment, under its own key."""
    conn = uow.conn
    _remember(conn, event)
    return _enqueue(conn, event, "record-read")


def on_record_read_requested(event: CloudEvent, uow: UnitOfWork) -> None:
    """``gp.record-read-requested`` (a follow-up after discharge): read the patient's GP record on the Task's
    ``executionPeriod.start``, not before, as the same delivery a re-sync is. The NHS number is the one
    remembered for the patient here; a patient never known here is skipped (nothing to read)."""
    conn = uow.conn
    task = event.data
    patient_id = str((task.get("for") or {}).get("reference", "")).removeprefix("Patient/")
    number = repository.nhs_number_for(conn, event.practice, patient_id) if patient_id else None
    if number is None:
        log.warning("gp.record-read-requested %s: the patient is not known here; no read", event.id)
        return
    patient = {"resourceType": "Patient", "id": patient_id, "identifier": [nhs_number_identifier(number)]}
    request = CloudEvent(  # the same request as the API's re-sync, keyed by this event's id
        id=event.id,
        source=uow.source,
        type="gpconnect.sync-requested.v1",
        subject=f"Patient/{patient_id}",
        practice=event.practice,
        correlationid=event.correlationid,
        data={"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]},
    )
    _enqueue(conn, request, "record-read", task_send_on(task))


def on_referral_decided(event: CloudEvent, uow: UnitOfWork) -> None:
    """Accepted or rejected: remember the patient; answer a BaRS referrer with a servicerequest-response."""
    conn = uow.conn
    _remember(conn, event)
    if carried_resources(event.data, "MessageHeader"):
        _enqueue(conn, event, "bars-response")


def on_task_requested(event: CloudEvent, uow: UnitOfWork) -> None:
    """The task goes to the practice's workflow; a plan summary's attachment also goes through MESH."""
    conn = uow.conn
    _enqueue(conn, event, "task", task_send_on(event.data))
    if task_code(event.data) == "plan-summary" and has_attachment(event.data):
        _enqueue(conn, event, "document")


def on_prescription_changed(event: CloudEvent, uow: UnitOfWork) -> None:
    """The GP-approved change is written to the GP system's medication record on its date, not before."""
    conn = uow.conn
    _enqueue(conn, event, "prescription", prescription_date(event.data))


def consumers(kernel: FhirKernel) -> list[Consumer]:
    """Each a ``handler(event, uow)`` run by ``kernel.consumer`` in the inbox's transaction."""
    return [
        Consumer("gpconnect-record-read", (PATIENT_ENROLLED_V1,), kernel.consumer(on_patient_enrolled)),
        Consumer(
            "gpconnect-referral-response",
            (REFERRAL_ACCEPTED_V1, REFERRAL_REJECTED_V1),
            kernel.consumer(on_referral_decided),
        ),
        Consumer("gpconnect-tasks", (GP_TASK_REQUESTED_V1,), kernel.consumer(on_task_requested)),
        Consumer(
            "gpconnect-prescriptions",
            (PRESCRIPTION_CHANGED_V1,),
            kernel.consumer(on_prescription_changed),
        ),
        Consumer(
            "gpconnect-follow-up-read",
            (GP_RECORD_READ_REQUESTED_V1,),
            kernel.consumer(on_record_read_requested),
        ),
        Consumer("gpconnect-discharge", (PATIENT_DISCHARGED_V1,), kernel.consumer(on_patient_discharged)),
    ]
