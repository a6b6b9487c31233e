"""GP Connect / FHIR-speaking GP systems: the structured record read, Tasks and MedicationRequests as
FHIR resources, documents through MESH."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.gpconnect.delivery.adapters.base import (
    Document,
    DocumentChannel,
    PermanentDeliveryError,
    TaskDecision,
)
from services.gpconnect.delivery.adapters.http import HttpGpSystem, OutboundGuard
from services.gpconnect.domain.practices import PracticeConfig
from shared.fhir import nhs_number_identifier

__all__ = [
    "GP_CONNECT_INTERACTION",
    "GpConnectFhirAdapter",
    "new_prescription",
    "structured_record_parameters",
]

GP_CONNECT_INTERACTION = "urn:nhs:names:services:gpconnect:fhir:operation:gpc.getstructuredrecord-1"
FHIR_JSON = "application/fhir+json"


def structured_record_parameters(nhs_number: str) -> dict[str, Any]:
    """The ``$gpc.getstructuredrecord`` Parameters: the patient, medications with their issues, problems."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "patientNHSNumber",
                "valueIdentifier": nhs_number_identifier(nhs_number),
            },
            {
                "name": "includeMedication",
                "part": [{"name": "includePrescriptionIssues", "valueBoolean": True}],
            },
            {"name": "includeProblems"},
        ],
    }


def _with_nhs_number(resource: dict[str, Any], field: str, nhs_number: str) -> dict[str, Any]:
    """The patient reference also names the NHS number: the GP system knows the patient by it."""
    reference = dict(resource.get(field) or {})
    reference["identifier"] = nhs_number_identifier(nhs_number)
    return {**resource, field: reference}


class GpConnectFhirAdapter(HttpGpSystem):
    supplier = "gpconnect-fhir"

    def __init__(
        self,
        practice: PracticeConfig,
        client: httpx.AsyncClient,
        guard: OutboundGuard,
        documents: DocumentChannel,
        *,
        consumer_asid: str = "200000000359",
    ) -> None:
        super().__init__(practice, client, guard)
        self.documents, self.consumer_asid = documents, consumer_asid

    async def read_record(self, nhs_number: str, *, trace_id: str) -> dict[str, Any]:
        headers = self.headers(
            **{
                "Content-Type": FHIR_JSON,
                "Ssp-TraceID": trace_id,
                "Ssp-From": self.consumer_asid,
                "Ssp-To": self.practice.ods,
                "Ssp-InteractionID": GP_CONNECT_INTERACTION,
            }
        )
        url = self.url("Patient/$gpc.getstructuredrecord")
        response = await self.call(
            "POST", url, headers=headers, json=structured_record_parameters(nhs_number)
        )
        return self.body(response)

    def _write_headers(self, idempotency_key: str) -> dict[str, str]:
        return self.headers(
            **{
                "Content-Type": FHIR_JSON,
                "Idempotency-Key": idempotency_key,
                "X-Request-Id": str(uuid.uuid4()),
            }
        )

    async def write_task(self, task: dict[str, Any], nhs_number: str, *, idempotency_key: str) -> str:
        body = _with_nhs_number({k: v for k, v in task.items() if k != "meta"}, "for", nhs_number)
        response = await self.call(
            "POST", self.url("Task"), headers=self._write_headers(idempotency_key), json=body
        )
        remote_id = self.body(response).get("id")
        if not isinstance(remote_id, str) or not remote_id:
            raise PermanentDeliveryError("GP system stored the Task but returned no id")
        return remote_id

    async def task_decision(self, remote_id: str) -> TaskDecision | None:
        response = await self.call("GET", self.url(f"Task/{remote_id}"), headers=self.headers())
        task = self.body(response)
        status = task.get("status")
        if status not in ("completed", "rejected"):
            return None
        reason = (task.get("statusReason") or {}).get("text")
        owner = (task.get("owner") or {}).get("display")
        return TaskDecision(
            status=status,
            business_status="approved" if status == "completed" else "declined",
            reason=reason,
            decided_by=owner,
            output=tuple(task.get("output") or ()),
        )

    async def write_prescription_change(
        self, change: dict[str, Any], nhs_number: str, *, idempotency_key: str
    ) -> str:
        new = new_prescription(change)
        body = _with_nhs_number({k: v for k, v in new.items() if k != "meta"}, "subject", nhs_number)
        url = self.url("MedicationRequest")
        response = await self.call("POST", url, headers=self._write_headers(idempotency_key), json=body)
        remote_id = self.body(response).get("id")
        if not isinstance(remote_id, str) or not remote_id:
            raise PermanentDeliveryError("GP system stored the prescription but returned no id")
        return remote_id

    async def send_document(self, mailbox: str, document: Document, *, idempotency_key: str) -> str:
        return await self.documents.send(mailbox, document, idempotency_key=idempotency_key)


def new_prescription(change: dict[str, Any]) -> dict[str, Any]:
    """The new MedicationRequest of a ``prescription.changed`` event (a Bundle, or the resource alone),
    with its medicine inline (``medicationCodeableConcept``): the GP system does not know our Medication ids.
    """
    resources = (
        [change]
        if change.get("resourceType") != "Bundle"
        else [e.get("resource") or {} for e in change.get("entry", ())]
    )
    requests = [r for r in resources if r.get("resourceType") == "MedicationRequest"]
    new = next((r for r in requests if r.get("status") == "active"), None)
    if new is None:
        raise PermanentDeliveryError("the prescription change carries no active MedicationRequest")
    new = dict(new)
    reference = str((new.get("medicationReference") or {}).get("reference", ""))
    if "medicationCodeableConcept" not in new and reference:
        key = reference.rsplit("/", 1)[-1].removeprefix("urn:uuid:").removeprefix("#")
        pool = [r for r in resources if r.get("resourceType") == "Medication"] + list(
            new.get("contained", ())
        )
        medication = next((m for m in pool if m.get("id") == key), None)
        if medication is None or "code" not in medication:
            raise PermanentDeliveryError("the prescription change refers to a medicine it does not carry")
        new["medicationCodeableConcept"] = medication["code"]
        new.pop("medicationReference", None)
        new.pop("contained", None)
    return new
