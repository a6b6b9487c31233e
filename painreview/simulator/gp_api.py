"""The simulated GP system's API, as gpconnect's adapters call it: GP Connect's structured record read,
FHIR Task and MedicationRequest writes, the EMIS-style JSON task and prescription API, and a BaRS
receiver. Each call may be failed on purpose (``/admin/faults``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from painreview.simulator.record import structured_record
from painreview.simulator.state import NotReplaceable, PracticeState, SimTask, Simulator
from shared.contracts.taper import REPLACES_AUTHORISATION_URL
from shared.core.values import nhs_number_of_reference

__all__ = ["gp_api_router"]

FHIR = "application/fhir+json"


def _outcome_body(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def _outcome(status: int, code: str, text: str) -> JSONResponse:
    return JSONResponse(_outcome_body(code, text), status_code=status, media_type=FHIR)


def gp_api_router(sim: Simulator) -> APIRouter:
    router = APIRouter(prefix="/practices/{ods}", tags=["GP system API"])

    async def faulty(
        work: Callable[[], tuple[int, dict[str, Any]]], *, key: str | None, state: PracticeState
    ) -> Response:
        """Run ``work`` once per idempotency ``key``, with the fault drawn for this call."""
        fault = sim.draw_fault()
        if fault == "error":
            return _outcome(500, "exception", "Simulated GP system error")
        if fault == "timeout-before":
            await asyncio.sleep(sim.faults.timeout_s)
            return _outcome(504, "timeout", "Simulated timeout")
        if key is not None and key in state.answers:
            sim.stats["idempotent-replays"] += 1
            status, body = state.answers[key]
            status = 200 if status == 201 else status
        else:
            status, body = work()
            if key is not None and status < 500:
                state.answers[key] = (status, body)
        if fault == "timeout-after":
            await asyncio.sleep(sim.faults.timeout_s)
        elif fault == "slow":
            await asyncio.sleep(sim.faults.slow_s)
        return JSONResponse(body, status_code=status, media_type=FHIR if "resourceType" in body else None)

    def state_of(ods: str) -> PracticeState | None:
        return sim.practices.get(ods.upper())

    def poisoned(nhs: str) -> bool:
        return nhs in sim.faults.poison_nhs_numbers

    @router.post("/Patient/$gpc.getstructuredrecord", summary="GP Connect Access Record Structured")
    async def get_structured_record(ods: str, request: Request) -> Response:
        state = state_of(ods)
        if state is None:
            return _outcome(404, "not-found", "No such practice")
        body = await request.json()
        nhs = next(
            (
                p["valueIdentifier"].get("value")
                for p in body.get("parameter", ())
                if p.get("name") == "patientNHSNumber"
            ),
            None,
        )

        def read() -> tuple[int, dict[str, Any]]:
            if nhs is None or nhs not in state.patients:
                return 404, {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "not-found", "diagnostics": "PATIENT_NOT_FOUND"}],
                }
            sim.stats["records-read"] += 1
            return 200, structured_record(state.patients[nhs], state.ods, today=sim.day)

        return await faulty(read, key=None, state=state)

    def _new_task(
        state: PracticeState, nhs: str, task_type: str, subject: str, body: str, style: str, ref: Any
    ) -> SimTask:
        return state.add_task(SimTask("", nhs, task_type, subject, body, style, str(ref) if ref else None))

    @router.post("/Task", summary="A FHIR Task into the practice's workflow")
    async def post_task(ods: str, request: Request) -> Response:
        state, key = state_of(ods), request.headers.get("Idempotency-Key")
        if state is None or not key:
            return _outcome(400, "required", "Unknown practice, or no Idempotency-Key")
        task = await request.json()

        def write() -> tuple[int, dict[str, Any]]:
            nhs = nhs_number_of_reference(task.get("for"))
            if nhs is None or nhs not in state.patients or poisoned(nhs):
                return 422, _outcome_body("processing", "Patient not registered here")
            code = next((c.get("code") for c in (task.get("code") or {}).get("coding", ())), "review")
            summary = " ".join(
                i["valueString"] for i in task.get("input", ()) if isinstance(i.get("valueString"), str)
            )
            ref = next((i.get("value") for i in task.get("identifier", ())), None)
            stored = _new_task(state, nhs, str(code), str(task.get("description", "")), summary, "fhir", ref)
            sim.stats["tasks"] += 1
            return 201, {**task, "id": stored.id, "status": "requested"}

        return await faulty(write, key=f"task:{key}", state=state)

    @router.get("/Task/{task_id}", summary="A Task and the GP's decision on it")
    async def get_task(ods: str, task_id: str) -> Response:
        state = state_of(ods)
        task = state.tasks.get(task_id) if state else None
        if task is None or state is None:
            return _outcome(404, "not-found", "No such task")

        def read() -> tuple[int, dict[str, Any]]:
            body: dict[str, Any] = {
                "resourceType": "Task",
                "id": task.id,
                "status": task.status,
                "intent": "order",
            }
            if task.decision_note:
                body["statusReason"] = {"text": task.decision_note}
            if task.decided_by:
                body["owner"] = {"display": task.decided_by}
            return 200, body

        return await faulty(read, key=None, state=state)

    @router.post("/MedicationRequest", summary="Apply a GP-approved prescription change (FHIR)")
    async def post_prescription(ods: str, request: Request) -> Response:
        state, key = state_of(ods), request.headers.get("Idempotency-Key")
        if state is None or not key:
            return _outcome(400, "required", "Unknown practice, or no Idempotency-Key")
        new = await request.json()

        def write() -> tuple[int, dict[str, Any]]:
            nhs = nhs_number_of_reference(new.get("subject"))
            if nhs is None or nhs not in state.patients or poisoned(nhs):
                return 422, _outcome_body("processing", "Prescription change refused")
            concept = new.get("medicationCodeableConcept") or {}
            code = next((c.get("code") for c in concept.get("coding", ())), None)
            prior = str((new.get("priorPrescription") or {}).get("reference", "")).rsplit("/", 1)[-1] or None
            replaces = tuple(
                str((e.get("valueReference") or {}).get("reference", "")).rsplit("/", 1)[-1]
                for e in new.get("extension") or ()
                if e.get("url") == REPLACES_AUTHORISATION_URL
            )
            group = (new.get("groupIdentifier") or {}).get("value")
            quantity = ((new.get("dispenseRequest") or {}).get("quantity") or {}).get("value")
            try:
                applied = state.apply_change(
                    nhs,
                    prior_id=prior,
                    prior_ids=tuple(r for r in replaces if r),
                    group=str(group) if group else None,
                    dmd_code=code,
                    name=str(concept.get("text") or code or "medicine"),
                    dosage=" ".join(d.get("text", "") for d in new.get("dosageInstruction", ())),
                    quantity=int(quantity) if quantity else None,
                    reference=new.get("id"),
                    today=sim.day,
                )
            except NotReplaceable as exc:
                return 422, _outcome_body("business-rule", str(exc))
            sim.stats["prescription-changes"] += 1
            return 201, {**new, "id": applied.id, "intent": "plan"}

        return await faulty(write, key=f"rx:{key}", state=state)

    @router.post("/emis/tasks", summary="An EMIS-style task")
    async def post_emis_task(ods: str, request: Request) -> Response:
        state, key = state_of(ods), request.headers.get("X-Idempotency-Key")
        if state is None or not key:
            return JSONResponse({"error": "unknown practice or no X-Idempotency-Key"}, status_code=400)
        task = await request.json()

        def write() -> tuple[int, dict[str, Any]]:
            nhs = str(task.get("patientNhsNumber", ""))
            if nhs not in state.patients or poisoned(nhs):
                return 422, {"error": "patient not registered here"}
            stored = _new_task(
                state,
                nhs,
                str(task.get("taskType")),
                str(task.get("subject", "")),
                str(task.get("body", "")),
                "emis",
                task.get("externalReference"),
            )
            sim.stats["tasks"] += 1
            return 201, {"taskId": stored.id, "status": "Pending"}

        return await faulty(write, key=f"task:{key}", state=state)

    @router.get("/emis/tasks/{task_id}", summary="An EMIS-style task and its decision")
    async def get_emis_task(ods: str, task_id: str) -> Response:
        state = state_of(ods)
        task = state.tasks.get(task_id) if state else None
        if task is None or state is None:
            return JSONResponse({"error": "no such task"}, status_code=404)
        label = {"requested": "Pending", "completed": "Approved", "rejected": "Declined"}[task.status]
        return await faulty(
            lambda: (
                200,
                {
                    "taskId": task.id,
                    "status": label,
                    "decisionNote": task.decision_note,
                    "decidedBy": task.decided_by,
                },
            ),
            key=None,
            state=state,
        )

    @router.post("/emis/prescriptions/changes", summary="An EMIS-style prescription change")
    async def post_emis_change(ods: str, request: Request) -> Response:
        state, key = state_of(ods), request.headers.get("X-Idempotency-Key")
        if state is None or not key:
            return JSONResponse({"error": "unknown practice or no X-Idempotency-Key"}, status_code=400)
        change = await request.json()

        def write() -> tuple[int, dict[str, Any]]:
            nhs = str(change.get("patientNhsNumber", ""))
            if nhs not in state.patients or poisoned(nhs):
                return 422, {"error": "prescription change refused"}
            drug = change.get("drug") or {}
            try:
                applied = state.apply_change(
                    nhs,
                    prior_id=change.get("replacesAuthorisationId"),
                    prior_ids=tuple(str(i) for i in change.get("replacesAuthorisationIds") or ()),
                    group=change.get("groupId"),
                    dmd_code=drug.get("dmdCode"),
                    name=str(drug.get("name", "medicine")),
                    dosage=str(change.get("dosage", "")),
                    quantity=(change.get("quantity") or {}).get("value"),
                    reference=change.get("externalReference"),
                    today=sim.day,
                )
            except NotReplaceable as exc:
                return 422, {"error": str(exc)}
            sim.stats["prescription-changes"] += 1
            return 201, {"authorisationId": applied.id}

        return await faulty(write, key=f"rx:{key}", state=state)

    @router.post("/bars/$process-message", summary="BaRS receiver: servicerequest-response messages")
    async def bars_receiver(ods: str, request: Request) -> Response:
        state, request_id = state_of(ods), request.headers.get("X-Request-Id")
        if state is None or not request_id:
            return _outcome(400, "required", "REC_BAD_REQUEST: X-Request-Id is required")
        message = await request.json()

        def receive() -> tuple[int, dict[str, Any]]:
            if request_id in state.bars_messages:
                return 409, {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "duplicate", "diagnostics": "REC_CONFLICT"}],
                }
            state.bars_messages[request_id] = message
            sim.stats["bars-messages"] += 1
            return 200, {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "information", "code": "informational"}],
            }

        return await faulty(receive, key=None, state=state)

    return router
