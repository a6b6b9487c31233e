"""EMIS-style GP systems: the record is read over GP Connect (FHIR, as every principal supplier offers),
but tasks and prescription changes go to a supplier JSON API with its own shapes and endpoints."""

from __future__ import annotations

from typing import Any

import httpx

from services.gpconnect.delivery.adapters.base import (
    Document,
    DocumentChannel,
    PermanentDeliveryError,
    TaskDecision,
)
from services.gpconnect.delivery.adapters.gpconnect_fhir import GpConnectFhirAdapter, new_prescription
from services.gpconnect.delivery.adapters.http import HttpGpSystem, OutboundGuard
from services.gpconnect.domain.practices import PracticeConfig
from shared.contracts.taper import REPLACES_AUTHORISATION_URL

__all__ = ["EmisStyleAdapter", "emis_prescription_change", "emis_task"]

TASK_TYPE_CODES = "https://pain-review.example.org/fhir/CodeSystem/gp-task-type"
# Our task types to the EMIS task types a practice's workflow sorts on.
_EMIS_TASK_TYPE = {
    "approve-taper-step": "MedicationReview",
    "review": "MedicationReview",
    "plan-summary": "ForInformation",
    "session-summary": "ForInformation",
}


def _task_type(task: dict[str, Any]) -> str:
    for coding in (task.get("code") or {}).get("coding", ()):
        if coding.get("system") == TASK_TYPE_CODES and coding.get("code") in _EMIS_TASK_TYPE:
            return _EMIS_TASK_TYPE[coding["code"]]
    return "ForInformation"


def emis_task(task: dict[str, Any], nhs_number: str, ods: str) -> dict[str, Any]:
    """An EMIS-style task: a subject line, a body, who it is for, and our Task's identifier as reference."""
    summary = " ".join(
        str(i["valueString"]) for i in task.get("input", ()) if isinstance(i.get("valueString"), str)
    )
    identifier = next((i.get("value") for i in task.get("identifier", ()) if i.get("value")), task.get("id"))
    return {
        "taskType": _task_type(task),
        "subject": str(task.get("description") or "Pain and opioid review")[:200],
        "body": summary,
        "patientNhsNumber": nhs_number,
        "organisationOds": ods,
        "urgent": task.get("priority") in ("urgent", "asap", "stat"),
        "externalReference": identifier,
    }


def _dosage_text(request: dict[str, Any]) -> str:
    return " ".join(str(d.get("text", "")) for d in request.get("dosageInstruction", ()) if d.get("text"))


def _drug(request: dict[str, Any]) -> dict[str, Any]:
    concept = request.get("medicationCodeableConcept") or {}
    codings = concept.get("coding", ())
    code = next(
        (c.get("code") for c in codings if "snomed" in str(c.get("system")) or "dmd" in str(c.get("system"))),
        None,
    )
    name = concept.get("text") or next((c.get("display") for c in codings if c.get("display")), None)
    if not name:
        raise PermanentDeliveryError("the prescription change names no medicine")
    return {"dmdCode": code, "name": name}


def emis_prescription_change(change: dict[str, Any], nhs_number: str) -> dict[str, Any]:
    """An EMIS-style prescription change: stop the authorisations it replaces (every one named; the first
    also as ``replacesAuthorisationId``), add the new one; ``groupId`` the step's group (one prescription
    per strength)."""
    new = new_prescription(change)
    prior = str((new.get("priorPrescription") or {}).get("reference", "")).rsplit("/", 1)[-1] or None
    replaces = [
        str((e.get("valueReference") or {}).get("reference", "")).rsplit("/", 1)[-1]
        for e in new.get("extension") or ()
        if e.get("url") == REPLACES_AUTHORISATION_URL
    ]
    dispense = new.get("dispenseRequest") or {}
    quantity = dispense.get("quantity") or {}
    return {
        "patientNhsNumber": nhs_number,
        "replacesAuthorisationId": prior,
        "replacesAuthorisationIds": [r for r in replaces if r] or ([prior] if prior else []),
        "groupId": (new.get("groupIdentifier") or {}).get("value"),
        "drug": _drug(new),
        "dosage": _dosage_text(new),
        "quantity": {"value": quantity.get("value"), "unit": quantity.get("unit")},
        "repeatsAllowed": dispense.get("numberOfRepeatsAllowed"),
        "reason": next(
            (n.get("text") for n in new.get("note", ()) if n.get("text")), "Dose reduction agreed"
        ),
        "externalReference": new.get("id"),
    }


_DECISIONS = {"Approved": ("completed", "approved"), "Declined": ("rejected", "declined")}


class EmisStyleAdapter(HttpGpSystem):
    supplier = "emis-style"

    def __init__(
        self,
        practice: PracticeConfig,
        client: httpx.AsyncClient,
        guard: OutboundGuard,
        documents: DocumentChannel,
    ) -> None:
        super().__init__(practice, client, guard)
        self._reader = GpConnectFhirAdapter(practice, client, guard, documents)
        self.documents = documents

    async def read_record(self, nhs_number: str, *, trace_id: str) -> dict[str, Any]:
        return await self._reader.read_record(nhs_number, trace_id=trace_id)

    def _json_headers(self, idempotency_key: str) -> dict[str, str]:
        return self.headers(**{"Content-Type": "application/json", "X-Idempotency-Key": idempotency_key})

    async def write_task(self, task: dict[str, Any], nhs_number: str, *, idempotency_key: str) -> str:
        body = emis_task(task, nhs_number, self.practice.ods)
        response = await self.call(
            "POST", self.url("emis/tasks"), headers=self._json_headers(idempotency_key), json=body
        )
        remote_id = self.body(response).get("taskId")
        if not isinstance(remote_id, str) or not remote_id:
            raise PermanentDeliveryError("EMIS-style system stored the task but returned no taskId")
        return remote_id

    async def task_decision(self, remote_id: str) -> TaskDecision | None:
        response = await self.call("GET", self.url(f"emis/tasks/{remote_id}"), headers=self.headers())
        task = self.body(response)
        decided = _DECISIONS.get(str(task.get("status")))
        if decided is None:
            return None
        status, business = decided
        return TaskDecision(
            status="completed" if status == "completed" else "rejected",
            business_status="approved" if business == "approved" else "declined",
            reason=task.get("decisionNote"),
            decided_by=task.get("decidedBy"),
        )

    async def write_prescription_change(
        self, change: dict[str, Any], nhs_number: str, *, idempotency_key: str
    ) -> str:
        body = emis_prescription_change(change, nhs_number)
        url = self.url("emis/prescriptions/changes")
        response = await self.call("POST", url, headers=self._json_headers(idempotency_key), json=body)
        remote_id = self.body(response).get("authorisationId")
        if not isinstance(remote_id, str) or not remote_id:
            raise PermanentDeliveryError(
                "EMIS-style system applied the change but returned no authorisationId"
            )
        return remote_id

    async def send_document(self, mailbox: str, document: Document, *, idempotency_key: str) -> str:
        return await self.documents.send(mailbox, document, idempotency_key=idempotency_key)
