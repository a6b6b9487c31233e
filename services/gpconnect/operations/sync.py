"""gpconnect's operation: re-read a patient's GP record.

A practice's GP system (its endpoints, credentials, MESH mailbox) is configured by an operator only,
with ``pain-review gp practices set``: no API caller may choose where the server sends requests or
which secret it sends with them (the ``$configure-practice`` operation that let it is gone).
"""

from __future__ import annotations

from typing import Any

from services.gpconnect import repository
from services.gpconnect.consumers import request_record_read
from shared.contracts import CloudEvent
from shared.fhir import (
    BadRequest,
    FhirKernel,
    NotFound,
    OperationCall,
    Parameters,
    UnitOfWork,
    Unprocessable,
    information_outcome,
    nhs_number_identifier,
    nhs_number_of,
    reference_id,
)

__all__ = ["register", "sync_medications"]


def sync_medications(call: OperationCall, uow: UnitOfWork) -> Any:
    """``POST [base]/$sync-medications`` with ``patient`` (a Patient resource with its NHS number, or a
    reference ``Patient/<id>`` to one gpconnect knows): read the GP record again and publish
    ``medication.list-synced``. Answers 200 with an information OperationOutcome once queued; a repeat
    of the same ``X-Request-Id`` is a 409 and queues nothing (the kernel claims it with the request)."""
    params = Parameters(call.body)
    practice = uow.practice
    target = params.value("patient")
    if isinstance(target, dict) and "reference" in target:
        patient_id = reference_id(target, "Patient")
        number = repository.nhs_number_for(uow.conn, practice, patient_id) if patient_id else None
        if patient_id is None or number is None:
            raise NotFound("No patient with that id is known to gpconnect at this practice")
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [nhs_number_identifier(number)],
        }
    elif isinstance(target, dict) and target.get("resourceType") == "Patient":
        patient = target
        if not patient.get("id") or nhs_number_of(patient) is None:
            raise Unprocessable("The Patient needs an id and an NHS number")
    else:
        raise BadRequest("Parameter 'patient' is required: a Patient resource or a Patient reference")
    uow.patient = f"Patient/{patient['id']}"
    request = CloudEvent(
        source=uow.source,
        type="gpconnect.sync-requested.v1",
        subject=f"Patient/{patient['id']}",
        practice=practice,
        correlationid=call.ctx.correlation_id,
        data={"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]},
    )
    request_record_read(uow, request)
    return information_outcome("The GP record will be read again; medication.list-synced follows")


def register(kernel: FhirKernel) -> None:
    kernel.operation(
        "sync-medications",
        sync_medications,
        level="system",
        scope=("MedicationStatement", "c"),
        documentation="Read the patient's GP record again (GP Connect) and publish medication.list-synced",
    )
