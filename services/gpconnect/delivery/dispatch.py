"""What each kind of delivery does at the far end, and what it records here when it is done."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Connection, Engine

from services.gpconnect import repository
from services.gpconnect.delivery.adapters import (
    BarsSender,
    Document,
    DocumentChannel,
    GpSystemAdapter,
    NotReady,
    OutboundGuard,
    PermanentDeliveryError,
    TaskDecision,
    adapter_for,
)
from services.gpconnect.delivery.writeback import (
    gp_authorisations,
    new_orders,
    order_change,
    replaced_references,
)
from services.gpconnect.domain.deliveries import has_attachment, is_decision_task, nhs_number, patient_of
from services.gpconnect.domain.practices import PracticeConfig
from services.gpconnect.fhir_mapping import RecordMismatch, map_structured_record
from services.gpconnect.fhir_mapping.bars_response import servicerequest_response
from shared.contracts import (
    GP_TASK_COMPLETED_V1,
    MEDICATION_LIST_SYNCED_V1,
    CloudEvent,
    from_json,
    new_event,
)
from shared.fhir import (
    FhirError,
    carried_resources,
    in_transaction,
    nhs_number_identifier,
    reading,
    validate_resource,
)

__all__ = ["Awaiting", "Dispatcher", "Done", "Outcome", "PartlyWritten", "StillPending", "task_completed"]

AdapterFactory = Callable[
    [PracticeConfig, httpx.AsyncClient, OutboundGuard, DocumentChannel], GpSystemAdapter
]


@dataclass(frozen=True)
class Done:
    remote_ref: str | None
    events: tuple[CloudEvent, ...] = ()


@dataclass(frozen=True)
class Awaiting:
    """Delivered; the GP's decision is to be read back later."""

    remote_ref: str


@dataclass(frozen=True)
class StillPending:
    """The GP has not decided yet."""


Outcome = Done | Awaiting | StillPending


class PartlyWritten(PermanentDeliveryError):
    """The GP system refused an order of a step after taking an earlier one: dead-lettered, and ``events``
    (the record read again) published with it, so that medreview's reconciliation sees the step only partly
    written and asks the practice to put it right."""

    def __init__(self, message: str, events: tuple[CloudEvent, ...]) -> None:
        super().__init__(message)
        self.events = events


def _patient_id(reference: Any) -> str | None:
    text = str((reference or {}).get("reference", "")) if isinstance(reference, dict) else ""
    return text.split("/", 1)[1] if text.startswith("Patient/") else None


def task_completed(
    requested: CloudEvent, decision: TaskDecision, remote_ref: str, *, source: str
) -> CloudEvent:
    """``gp.task-completed``: the requested Task (same identifier) with the GP's decision on it."""
    task = dict(requested.data)
    task.pop("meta", None)
    task["status"] = decision.status
    task["businessStatus"] = {
        "coding": [
            {
                "system": "https://pain-review.example.org/fhir/CodeSystem/gp-decision",
                "code": decision.business_status,
            }
        ],
        "text": decision.business_status,
    }
    if decision.reason:
        task["statusReason"] = {"text": decision.reason}
    outputs = [
        {"type": {"text": "gp-system-task-id"}, "valueString": remote_ref},
        *decision.output,
    ]
    if decision.decided_by:
        outputs.append({"type": {"text": "decided-by"}, "valueString": decision.decided_by})
    task["output"] = outputs
    return new_event(
        GP_TASK_COMPLETED_V1,
        source=source,
        subject=requested.subject,
        practice=requested.practice,
        data=task,
        correlationid=requested.correlationid,
    )


def _attachment_document(task: dict[str, Any], workflow_id: str) -> Document:
    attachment = next(
        i["valueAttachment"] for i in task.get("input", ()) if isinstance(i.get("valueAttachment"), dict)
    )
    try:
        content = base64.b64decode(attachment.get("data", ""), validate=True)
    except (binascii.Error, ValueError):
        raise PermanentDeliveryError("the attachment's data is not base64") from None
    if not content:
        raise PermanentDeliveryError("the attachment carries no inline data")
    content_type = str(attachment.get("contentType") or "application/octet-stream")
    extension = {"application/pdf": "pdf", "text/plain": "txt"}.get(content_type, "bin")
    title = str(attachment.get("title") or "plan-summary")
    filename = title if "." in title else f"{title}.{extension}"
    return Document(filename, content_type, content, str(task.get("description") or title)[:100], workflow_id)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        client: httpx.AsyncClient,
        guard: OutboundGuard,
        documents: DocumentChannel,
        *,
        workflow_id: str,
        source: str,
        now: Callable[[], datetime],
        adapters: AdapterFactory = adapter_for,
    ) -> None:
        """``source`` is the events' ``source`` (``event_source`` of the service's name)."""
        self.engine, self.client, self.guard, self.documents = engine, client, guard, documents
        self.workflow_id, self.source, self.now, self._adapters = workflow_id, source, now, adapters

    async def _lookup(self, practice: str, patient_id: str | None) -> tuple[PracticeConfig, str | None]:
        def read(conn: Connection) -> tuple[PracticeConfig | None, str | None]:
            config = repository.get_practice(conn, practice)
            number = repository.nhs_number_for(conn, practice, patient_id) if patient_id else None
            return config, number

        config, number = await reading(self.engine, read)
        if config is None:
            raise NotReady("the practice has no GP system configured")
        return config, number

    async def _adapter_and_patient(
        self, practice: str, patient_id: str | None
    ) -> tuple[GpSystemAdapter, PracticeConfig, str]:
        config, number = await self._lookup(practice, patient_id)
        if number is None:
            raise NotReady("the patient is not known here yet")
        return self._adapters(config, self.client, self.guard, self.documents), config, number

    async def run(self, item: repository.Delivery) -> Outcome:
        event = from_json(item.payload)
        if item.kind == "record-read":
            return await self._read_record(item, event)
        if item.kind == "task":
            if item.state == "awaiting-decision" and item.remote_ref:
                return await self._decision(event, item.remote_ref)
            return await self._task(item, event)
        if item.kind == "prescription":
            return await self._prescription(item, event)
        if item.kind == "document":
            return await self._document(item, event)
        if item.kind == "bars-response":
            return await self._bars_response(item, event)
        raise PermanentDeliveryError(f"unknown delivery kind {item.kind}")

    async def _read_record(self, item: repository.Delivery, event: CloudEvent) -> Outcome:
        patient = patient_of(event.data)
        if patient is None or nhs_number(patient) is None:
            raise PermanentDeliveryError("the event names no patient with an NHS number")
        config, _ = await self._lookup(item.practice, None)
        adapter = self._adapters(config, self.client, self.guard, self.documents)
        record = await adapter.read_record(str(nhs_number(patient)), trace_id=item.idempotency_key[:36])
        return Done(None, (self._synced(item, event, record, patient),))

    async def _task(self, item: repository.Delivery, event: CloudEvent) -> Outcome:
        task = event.data
        adapter, _, number = await self._adapter_and_patient(item.practice, _patient_id(task.get("for")))
        remote = await adapter.write_task(task, number, idempotency_key=item.idempotency_key)
        return Awaiting(remote) if is_decision_task(task) else Done(remote)

    async def _decision(self, event: CloudEvent, remote_ref: str) -> Outcome:
        adapter, _, _ = await self._adapter_and_patient(event.practice, _patient_id(event.data.get("for")))
        decision = await adapter.task_decision(remote_ref)
        if decision is None:
            return StillPending()
        return Done(remote_ref, (task_completed(event, decision, remote_ref, source=self.source),))

    async def _prescription(self, item: repository.Delivery, event: CloudEvent) -> Outcome:
        """Write each new order of the change (one, or one per strength of a step) naming every GP
        authorisation it replaces, remember the GP's id of each (the next change replaces those), then read
        the record again: the synced list it gives is what medreview reconciles (exactly the step's
        authorisations of each opioid)."""
        data = event.data
        subject = next((r.get("subject") for r in carried_resources(data, "MedicationRequest")), None)
        patient_id = _patient_id(subject)
        adapter, _, number = await self._adapter_and_patient(item.practice, patient_id)
        priors = replaced_references(data)

        def written(conn: Connection) -> dict[str, str | None]:
            return {ref: repository.gp_authorisation_of(conn, item.practice, ref) for ref in priors}

        gp_priors = gp_authorisations(data, await reading(self.engine, written))
        remotes: list[tuple[str, str]] = []
        patient = {
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [nhs_number_identifier(number)],
        }
        for position, order in enumerate(new_orders(data)):
            key = item.idempotency_key if position == 0 else f"{item.idempotency_key}:order-{position + 1}"
            change = order_change(data, order, gp_priors)
            try:
                remote = await adapter.write_prescription_change(change, number, idempotency_key=key)
            except PermanentDeliveryError as exc:
                if position == 0:
                    raise
                # The step's earlier orders are in the GP record, this one never will be: read the record
                # so that the mismatch is reconciled (a Task to the practice), not left unseen.
                record = await adapter.read_record(number, trace_id=item.idempotency_key[:36])
                synced = self._synced(item, event, record, patient)
                raise PartlyWritten(f"order {position + 1} of the step refused: {exc}", (synced,)) from None
            names = {f"MedicationRequest/{order['id']}"} if order.get("id") else set()
            if position == 0 and event.subject:
                names.add(event.subject)  # the change's subject is its (first) order
            remotes += [(ours, remote) for ours in sorted(names)]

        def remember(conn: Connection) -> None:
            for ours, remote in remotes:
                repository.remember_written(conn, item.practice, ours, remote)

        await in_transaction(self.engine, remember)
        record = await adapter.read_record(number, trace_id=item.idempotency_key[:36])
        return Done(remotes[0][1], (self._synced(item, event, record, patient),))

    def _synced(
        self, item: repository.Delivery, event: CloudEvent, record: dict[str, Any], patient: dict[str, Any]
    ) -> CloudEvent:
        try:
            synced = map_structured_record(record, patient=patient)
            validate_resource(synced, "Bundle")
        except RecordMismatch as exc:
            raise PermanentDeliveryError(f"GP record refused: {exc}") from None
        except FhirError as exc:
            raise PermanentDeliveryError(f"mapped record is not valid R4: {exc.diagnostics[:200]}") from None
        return new_event(
            MEDICATION_LIST_SYNCED_V1,
            source=self.source,
            subject=f"Patient/{patient['id']}",
            practice=item.practice,
            data=synced,
            correlationid=event.correlationid,
            time=self.now(),  # when the record was read, on the service's clock
        )

    async def _document(self, item: repository.Delivery, event: CloudEvent) -> Outcome:
        if not has_attachment(event.data):
            raise PermanentDeliveryError("the task carries no attachment")
        config, _ = await self._lookup(item.practice, None)
        if not config.mesh_mailbox:
            raise PermanentDeliveryError("the practice has no MESH mailbox configured")
        document = _attachment_document(event.data, self.workflow_id)
        message_id = await self.documents.send(
            config.mesh_mailbox, document, idempotency_key=item.idempotency_key
        )
        return Done(message_id)

    async def _bars_response(self, item: repository.Delivery, event: CloudEvent) -> Outcome:
        config, _ = await self._lookup(item.practice, None)
        if not config.bars_endpoint:
            return Done(None)  # the practice takes no BaRS responses: nothing to send
        message = servicerequest_response(
            event.data,
            now=self.now(),
            message_id=bars_message_id(item.idempotency_key),
            service_name="pain-review",
        )
        if message is None:
            return Done(None)
        sender = BarsSender(config, self.client, self.guard)
        remote = await sender.send(
            message, idempotency_key=item.idempotency_key, correlation_id=event.correlationid
        )
        return Done(remote)


def bars_message_id(idempotency_key: str) -> str:
    """The same message id for every try of one BaRS response."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bars-message:{idempotency_key}"))
