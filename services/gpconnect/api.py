"""gpconnect's operation: re-read a patient's GP record.

A practice's GP system (its endpoints, credentials, MESH mailbox) is configured by an operator only,
with ``pain-review gp practices set``: no API caller may choose where the server sends requests or
which secret it sends with them (the ``$configure-practice`` operation that let it is gone).
"""

from __future__ import annotations

from typing import Any

from services.gpconnect import handlers, repository
from shared.contracts import CloudEvent
from shared.fhir import BadRequest, FhirKernel, NotFound, OperationCall, Unprocessable, information_outcome

__all__ = ["configure_operations"]


def _parameters(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("The body must be a Parameters resource")
    values: dict[str, Any] = {}
    for parameter in body.get("parameter", ()):
        name = parameter.get("name")
        value = next((v for k, v in parameter.items() if k.startswith("value") or k == "resource"), None)
        if isinstance(name, str):
            values[name] = value
    return values


async def sync_medications(call: OperationCall) -> Any:
    """``POST [base]/$sync-medications`` with ``patient`` (a Patient resource with its NHS number, or a
    reference ``Patient/<id>`` to one gpconnect knows): read the GP record again and publish
    ``medication.list-synced``. Answers 200 with an information OperationOutcome once queued."""
    params = _parameters(call.body)
    practice = call.ctx.principal.practice
    target = params.get("patient")
    with call.transaction() as conn:
        if isinstance(target, dict) and "reference" in target:
            patient_id = str(target["reference"]).removeprefix("Patient/")
            number = repository.nhs_number_for(conn, practice, patient_id)
            if number is None:
                raise NotFound("No patient with that id is known to gpconnect at this practice")
            patient: dict[str, Any] = {
                "resourceType": "Patient",
                "id": patient_id,
                "identifier": [{"system": handlers.NHS_NUMBER_SYSTEM, "value": number}],
            }
        elif isinstance(target, dict) and target.get("resourceType") == "Patient":
            patient = target
            if not patient.get("id") or handlers.nhs_number(patient) is None:
                raise Unprocessable("The Patient needs an id and an NHS number")
        else:
            raise BadRequest("Parameter 'patient' is required: a Patient resource or a Patient reference")
        call.patient = f"Patient/{patient['id']}"
        request = CloudEvent(
            source="/painreview/gpconnect",
            type="gpconnect.sync-requested.v1",
            subject=f"Patient/{patient['id']}",
            practice=practice,
            correlationid=call.ctx.correlation_id,
            data={"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]},
        )
        handlers.request_record_read(conn, request)
    return information_outcome("The GP record will be read again; medication.list-synced follows")


def configure_operations(kernel: FhirKernel) -> None:
    kernel.operation(
        "sync-medications",
        sync_medications,
        level="system",
        scope=("MedicationStatement", "c"),
        documentation="Read the patient's GP record again (GP Connect) and publish medication.list-synced",
    )
