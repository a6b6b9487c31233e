"""Every write route and operation of medreview and gpconnect, sent twice with the same ``X-Request-Id``, is
processed once: the repeat is answered 409 (the claim's duplicate, not a domain conflict), audits no second
success and puts no second event in the outbox (nor, for gpconnect, a second delivery).

A new write route or operation of either service fails ``test_every_write_route_and_operation_is_covered``
until it has a case here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from services.gpconnect.tables import delivery
from shared.contracts import MEDICATION_LIST_SYNCED_V1, new_event
from shared.fhir import DUPLICATE_TEXT, resource_table
from shared.outbox import outbox, record_event
from tests.support import eventually

PRACTICE = "A81001"
FHIR_JSON = "application/fhir+json"
PARAMS = {"resourceType": "Parameters"}
MORPHINE = "Morphine sulfate 60mg modified-release tablets"
WRITES = frozenset({"c", "u", "d"})


@dataclass
class Call:
    service: str
    method: str
    path: str
    body: Any = None


@dataclass
class Api:
    system: EmbeddedSystem
    client: TestClient
    token: str

    def send(self, call: Call, request_id: str | None = None, correlation_id: str | None = None) -> Any:
        headers = {"authorization": f"Bearer {self.token}", "content-type": FHIR_JSON}
        headers["x-request-id"] = request_id or str(uuid.uuid4())
        if correlation_id:
            headers["x-correlation-id"] = correlation_id
        content = orjson.dumps(call.body) if call.body is not None else None
        url = f"/{call.service}{call.path}"
        return self.client.request(call.method, url, content=content, headers=headers)

    def ok(self, call: Call) -> dict[str, Any]:
        response = self.send(call)
        assert response.status_code in (200, 201), response.text
        found: dict[str, Any] = response.json() if response.content else {}
        return found


@pytest.fixture(scope="module")
def api(secured: tuple[EmbeddedSystem, TestClient, Any]) -> Api:
    system, client, tokens = secured
    return Api(system, client, tokens.valid())


# ---- what each case needs in place ----------------------------------------------------------------
def synced_patient(api: Api) -> str:
    """A patient on morphine 60 mg MR twice a day, their list synced from the GP record."""
    patient = str(uuid.uuid4())
    person = {
        "resourceType": "Patient",
        "id": patient,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000026"}],
    }
    medicine = {
        "resourceType": "MedicationRequest",
        "id": f"{patient}-mor",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient}"},
        "medicationCodeableConcept": {"text": MORPHINE},
        "dosageInstruction": [{"text": "one twice a day"}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"Patient/{patient}", "resource": person},
            {"fullUrl": f"MedicationRequest/{medicine['id']}", "resource": medicine},
        ],
    }
    event = new_event(
        MEDICATION_LIST_SYNCED_V1,
        source="/painreview/gpconnect",
        subject=f"Patient/{patient}",
        practice=PRACTICE,
        data=bundle,
    )
    with api.system.services["gpconnect"].engine.begin() as conn:
        record_event(conn, event)
    listed = Call("medreview", "GET", f"/fhir/List?patient=Patient/{patient}")
    eventually(lambda: api.ok(listed).get("total") == 1)
    return patient


def draft_plan(api: Api) -> tuple[str, dict[str, Any]]:
    patient = synced_patient(api)
    plan = api.ok(Call("medreview", "POST", f"/fhir/Patient/{patient}/$propose-taper", PARAMS))
    return patient, plan


def approval_task(api: Api, patient: str) -> dict[str, Any]:
    search = Call("medreview", "GET", f"/fhir/Task?patient=Patient/{patient}&code=approve-taper-step")
    task: dict[str, Any] = api.ok(search)["entry"][0]["resource"]
    return task


def approved(word: str = "approved") -> dict[str, Any]:
    return {**PARAMS, "parameter": [{"name": "decision", "valueCode": word}]}


def active_plan(api: Api) -> dict[str, Any]:
    patient, plan = draft_plan(api)
    api.ok(Call("medreview", "POST", f"/fhir/Task/{approval_task(api, patient)['id']}/$decide", approved()))
    return api.ok(Call("medreview", "GET", f"/fhir/CarePlan/{plan['id']}"))


def reason(text: str) -> dict[str, Any]:
    return {**PARAMS, "parameter": [{"name": "reason", "valueString": text}]}


def concern_parameters() -> dict[str, Any]:
    return {
        **PARAMS,
        "parameter": [
            {"name": "kind", "valueCode": "mood"},
            {"name": "severity", "valueInteger": 2},
            {"name": "description", "valueString": "I feel low"},
        ],
    }


def resource_of(resource_type: str, patient: str) -> dict[str, Any]:
    subject = {"reference": f"Patient/{patient}"}
    drug = {"text": "Paracetamol 500mg tablets"}
    return {
        "MedicationRequest": {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": subject,
            "medicationCodeableConcept": drug,
        },
        "MedicationStatement": {
            "resourceType": "MedicationStatement",
            "status": "active",
            "subject": subject,
            "medicationCodeableConcept": drug,
        },
        "Medication": {"resourceType": "Medication", "code": drug},
        "DetectedIssue": {"resourceType": "DetectedIssue", "status": "final", "patient": subject},
        "Observation": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "note"},
            "subject": subject,
        },
        "CarePlan": {"resourceType": "CarePlan", "status": "draft", "intent": "plan", "subject": subject},
        "Task": {"resourceType": "Task", "status": "draft", "intent": "order", "for": subject},
    }[resource_type]


MEDREVIEW_TYPES = (
    "MedicationRequest",
    "MedicationStatement",
    "Medication",
    "DetectedIssue",
    "Observation",
    "CarePlan",
    "Task",
)


def rest_case(resource_type: str, interaction: str) -> Callable[[Api], Call]:
    def prepare(api: Api) -> Call:
        body = resource_of(resource_type, str(uuid.uuid4()))
        if interaction == "create":
            return Call("medreview", "POST", f"/fhir/{resource_type}", body)
        stored = api.ok(Call("medreview", "POST", f"/fhir/{resource_type}", body))
        path = f"/fhir/{resource_type}/{stored['id']}"
        if interaction == "update":
            return Call("medreview", "PUT", path, {**stored, "language": "en-GB"})
        return Call("medreview", "DELETE", path)

    return prepare


def medication_review_posted(api: Api) -> Call:
    patient = str(uuid.uuid4())
    medicine = {**resource_of("MedicationRequest", patient), "id": "m1"}
    medicine["medicationCodeableConcept"] = {"text": MORPHINE}
    medicine["dosageInstruction"] = [{"text": "one twice a day"}]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": medicine}]}
    return Call("medreview", "POST", "/fhir/$medication-review", bundle)


def mdt_review(api: Api) -> Call:
    body = {
        **PARAMS,
        "parameter": [
            {"name": "outcome", "valueCode": "taper-agreed"},
            {"name": "summary", "valueString": "Agreed at the MDT"},
        ],
    }
    return Call("medreview", "POST", f"/fhir/Patient/{synced_patient(api)}/$record-mdt-review", body)


def decide(api: Api) -> Call:
    patient, _ = draft_plan(api)
    return Call("medreview", "POST", f"/fhir/Task/{approval_task(api, patient)['id']}/$decide", approved())


def pause(api: Api) -> Call:
    return Call("medreview", "POST", f"/fhir/CarePlan/{active_plan(api)['id']}/$pause", reason("Too fast"))


def step_back(api: Api) -> Call:
    plan = active_plan(api)
    return Call("medreview", "POST", f"/fhir/CarePlan/{plan['id']}/$step-back", reason("A flare"))


def resume(api: Api) -> Call:
    plan = active_plan(api)
    api.ok(Call("medreview", "POST", f"/fhir/CarePlan/{plan['id']}/$pause", reason("Too fast")))
    return Call("medreview", "POST", f"/fhir/CarePlan/{plan['id']}/$resume", PARAMS)


def raise_concern(api: Api) -> Call:
    plan = active_plan(api)
    return Call("medreview", "POST", f"/fhir/CarePlan/{plan['id']}/$raise-concern", concern_parameters())


def answer_concern(api: Api) -> Call:
    plan = active_plan(api)
    raised = api.ok(
        Call("medreview", "POST", f"/fhir/CarePlan/{plan['id']}/$raise-concern", concern_parameters())
    )
    task = next(p["resource"] for p in raised["parameter"] if p["name"] == "task")
    note = {**PARAMS, "parameter": [{"name": "note", "valueString": "Called the patient"}]}
    return Call("medreview", "POST", f"/fhir/Task/{task['id']}/$answer-concern", note)


def sync_medications(api: Api) -> Call:
    patient = {
        "resourceType": "Patient",
        "id": str(uuid.uuid4()),
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000026"}],
    }
    body = {**PARAMS, "parameter": [{"name": "patient", "resource": patient}]}
    return Call("gpconnect", "POST", "/fhir/$sync-medications", body)


CASES: dict[str, Callable[[Api], Call]] = {
    **{
        f"medreview {interaction} {rt}": rest_case(rt, interaction)
        for rt in MEDREVIEW_TYPES
        for interaction in ("create", "update", "delete")
    },
    "medreview $medication-review (system)": medication_review_posted,
    "medreview Patient $medication-review": lambda api: Call(
        "medreview", "POST", f"/fhir/Patient/{synced_patient(api)}/$medication-review", PARAMS
    ),
    "medreview Patient $propose-taper": lambda api: Call(
        "medreview", "POST", f"/fhir/Patient/{synced_patient(api)}/$propose-taper", PARAMS
    ),
    "medreview Patient $record-mdt-review": mdt_review,
    "medreview Task $decide": decide,
    "medreview CarePlan $pause": pause,
    "medreview CarePlan $step-back": step_back,
    "medreview CarePlan $resume": resume,
    "medreview CarePlan $raise-concern": raise_concern,
    "medreview Task $answer-concern": answer_concern,
    "gpconnect $sync-medications (system)": sync_medications,
}


def declared_writes(system: EmbeddedSystem, service: str) -> set[str]:
    """The write routes and operations a service's kernel serves, named as ``CASES`` names them."""
    kernel = system.services[service].kernel
    found = {
        f"{service} {interaction} {rt}"
        for rt, config in kernel.resources.items()
        for interaction in ("create", "update", "delete")
        if interaction in config.interactions
    }
    for op in kernel.operations:
        if op.scope[1] in WRITES:
            where = f"{op.resource_type} " if op.level == "instance" else ""
            level = f" ({op.level})" if op.level == "system" else ""
            found.add(f"{service} {where}${op.name}{level}")
    return found


def test_every_write_route_and_operation_is_covered(api: Api) -> None:
    declared = declared_writes(api.system, "medreview") | declared_writes(api.system, "gpconnect")
    assert declared == set(CASES)


# ---- what a repeat must not do again ----------------------------------------------------------------
def successes(api: Api, service: str, request_id: str) -> int:
    """The service's AuditEvents of a processed (outcome 0) call with ``request_id``."""
    with api.system.services[service].engine.connect() as conn:
        rows = conn.execute(
            sa.select(resource_table.c.content).where(
                resource_table.c.resource_type == "AuditEvent",
                resource_table.c.content.contains(request_id),
            )
        ).all()
    return sum(1 for row in rows if orjson.loads(row.content)["outcome"] == "0")


def effects(api: Api, service: str, correlation_id: str) -> int:
    """Events in the service's outbox (and gpconnect's deliveries) that the call caused."""
    engine = api.system.services[service].engine
    with engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(outbox.c.payload.contains(correlation_id))
        ).scalar_one()
        if service == "gpconnect":
            count += conn.execute(
                sa.select(sa.func.count()).where(delivery.c.payload.contains(correlation_id))
            ).scalar_one()
    return int(count)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_repeated_request_id_is_processed_once_and_answered_409(api: Api, case: str) -> None:
    call = CASES[case](api)
    request_id, correlation_id = f"idem-{uuid.uuid4()}", f"corr-{uuid.uuid4()}"
    first = api.send(call, request_id, correlation_id)
    assert first.status_code in (200, 201, 204), first.text
    done = (successes(api, call.service, request_id), effects(api, call.service, correlation_id))
    assert done[0] == 1

    again = api.send(call, request_id, correlation_id)
    assert again.status_code == 409, again.text
    assert DUPLICATE_TEXT in again.text  # the claim's refusal, not a domain conflict
    assert (successes(api, call.service, request_id), effects(api, call.service, correlation_id)) == done
