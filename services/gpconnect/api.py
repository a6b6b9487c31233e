"""gpconnect's operations: re-read a patient's GP record, configure a practice's GP system."""

from __future__ import annotations

from typing import Any

from services.gpconnect import handlers, repository
from services.gpconnect.practices import InvalidPracticeConfig, PracticeConfig
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


async def configure_practice(call: OperationCall) -> Any:
    """``POST [base]/$configure-practice``: ``supplier``, ``endpoint``, and optionally ``credentialsRef``,
    ``meshMailbox``, ``barsEndpoint``, for the caller's own practice (its token's ODS code)."""
    params = _parameters(call.body)
    try:
        config = PracticeConfig(
            ods=call.ctx.principal.practice,
            supplier=str(params.get("supplier") or ""),
            endpoint=str(params.get("endpoint") or ""),
            credentials_ref=str(params.get("credentialsRef") or ""),
            mesh_mailbox=str(params.get("meshMailbox") or ""),
            bars_endpoint=str(params.get("barsEndpoint") or ""),
        )
    except InvalidPracticeConfig as exc:
        raise Unprocessable(str(exc)) from None
    with call.transaction() as conn:
        repository.upsert_practice(conn, config)
    return information_outcome(f"Practice {config.ods} uses a {config.supplier} GP system")


def configure_operations(kernel: FhirKernel) -> None:
    kernel.operation(
        "sync-medications",
        sync_medications,
        level="system",
        scope=("MedicationStatement", "c"),
        documentation="Read the patient's GP record again (GP Connect) and publish medication.list-synced",
    )
    kernel.operation(
        "configure-practice",
        configure_practice,
        level="system",
        scope=("Endpoint", "c"),
        documentation="Set the caller's practice's GP system: supplier style, endpoint, MESH mailbox",
    )
