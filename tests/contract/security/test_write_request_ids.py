"""Every write route and operation of referral and careplan, sent twice with the same ``X-Request-Id``:
processed once, the repeat answered 409 ``duplicate`` and changing nothing.

Each scenario brings what its write needs (a patient, a referral's Task in the right state, a plan...)
under a practice of its own, sends the write, counts what that practice holds (every resource version
but AuditEvents, every outbox event), sends the same request again with the same id, and checks the
409 and that nothing was added. Without the claim the repeat would be processed again: a new version, a
new resource, or the workflow's own refusal (a 409 ``conflict``, not ``duplicate``), so each fails then.
``test_every_write_is_covered`` keeps the list complete: a write route or operation added to either
service without a scenario here fails it.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from services.careplan.domain.sessions import SETTING_EXTENSION, SETTING_SYSTEM
from shared.contracts import MEDREVIEW_COMPLETED_V1, new_event
from shared.fhir import DUPLICATE_TEXT, history_table
from shared.outbox import outbox, record_event
from tests.fixtures import BARS_EXAMPLES
from tests.support import eventually
from tests.support.tokens import Tokens

SERVICES = ("referral", "careplan")
WRITES = {"create": "POST", "update": "PUT", "delete": "DELETE"}
_practices = itertools.count(1)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Caller:
    """One practice's GP system, calling the embedded system."""

    system: EmbeddedSystem
    client: TestClient
    practice: str
    token: str

    def send(
        self, method: str, path: str, body: Any = None, request_id: str | None = None, **headers: str
    ) -> Any:
        sent = {"authorization": f"Bearer {self.token}", "content-type": "application/fhir+json", **headers}
        if request_id is not None:
            sent["x-request-id"] = request_id
        content = orjson.dumps(body) if body is not None else None
        return self.client.request(method, f"/{path}", content=content, headers=sent)

    def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.send(method, path, body)
        assert response.status_code in (200, 201), (method, path, response.status_code, response.text)
        return response.json()  # type: ignore[no-any-return]

    def held(self, service: str) -> tuple[int, int]:
        """(resource versions but AuditEvents, outbox events) this practice holds in ``service``."""
        h = history_table.c
        with self.system.services[service].engine.connect() as conn:
            versions = conn.execute(
                sa.select(sa.func.count()).where(h.practice == self.practice, h.resource_type != "AuditEvent")
            ).scalar_one()
            events = conn.execute(
                sa.select(sa.func.count()).where(outbox.c.practice == self.practice)
            ).scalar_one()
        return int(versions), int(events)


@pytest.fixture
def caller(secured: tuple[EmbeddedSystem, TestClient, Tokens]) -> Caller:
    system, client, tokens = secured
    practice = f"B{next(_practices):05d}"
    return Caller(system, client, practice, tokens.valid(practice=practice))


def sent_twice(
    caller: Caller,
    service: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    again: Any = None,
    **headers: str,
) -> Any:
    """Send a write, then the same request (or ``again``, another body) with the same ``X-Request-Id``:
    the first is processed, the second is a 409 duplicate that adds nothing. Returns the first answer."""
    request_id = str(uuid.uuid4())
    first = caller.send(method, path, body, request_id, **headers)
    assert first.status_code in (200, 201, 204), (method, path, first.status_code, first.text)
    before = caller.held(service)
    second = caller.send(method, path, body if again is None else again, request_id, **headers)
    assert second.status_code == 409, (method, path, second.status_code, second.text)
    issue = second.json()["issue"][0]
    assert (issue["code"], issue["diagnostics"]) == ("duplicate", DUPLICATE_TEXT), second.text
    assert caller.held(service) == before, (method, path, "the repeat changed something")
    return first


# ---- what the writes need ----------------------------------------------------------------------
def subject(patient: str) -> dict[str, Any]:
    return {"reference": f"Patient/{patient}"}


CODEINE = {"coding": [{"system": "http://snomed.info/sct", "code": "322697007", "display": "Codeine 30mg"}]}


def resource_body(resource_type: str, patient: str) -> dict[str, Any]:
    """A minimal valid resource of each type the services take over REST."""
    about = {"subject": subject(patient)}
    text = {"text": "test"}
    bodies: dict[str, dict[str, Any]] = {
        "Patient": {"name": [{"family": "Test"}]},
        "ServiceRequest": {"status": "active", "intent": "order", **about},
        "Condition": {"code": text, **about},
        "MedicationRequest": {
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": CODEINE,
            **about,
        },
        "MedicationStatement": {"status": "active", "medicationCodeableConcept": CODEINE, **about},
        "Observation": {"status": "final", "code": text, **about},
        "CarePlan": {"status": "draft", "intent": "plan", **about},
        "Goal": {"lifecycleStatus": "proposed", "description": text, **about},
        "CareTeam": {"status": "active", **about},
        "Encounter": {
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            **about,
        },
        "Appointment": {
            "status": "proposed",
            "participant": [{"actor": {"reference": f"Patient/{patient}"}, "status": "needs-action"}],
        },
        "Schedule": {"actor": [{"reference": f"Patient/{patient}"}]},
        "Slot": {
            "status": "free",
            "start": "2030-01-01T10:00:00Z",
            "end": "2030-01-01T11:00:00Z",
        },
        "RelatedPerson": {"patient": subject(patient)},
        "List": {"status": "current", "mode": "working", **about},
        "QuestionnaireResponse": {"status": "completed", **about},
        "Questionnaire": {"status": "draft"},
        "PlanDefinition": {"status": "draft"},
        "CodeSystem": {"status": "draft", "content": "complete", "url": f"urn:uuid:{uuid.uuid4()}"},
        "ValueSet": {"status": "draft"},
        "Measure": {"status": "draft"},
        "MeasureReport": {
            "status": "complete",
            "type": "summary",
            "measure": "https://example.org/Measure/x",
            "period": {"start": "2024-01-01", "end": "2024-12-31"},
        },
        "Task": {"status": "requested", "intent": "order", "for": subject(patient)},
    }
    return {"resourceType": resource_type, **bodies[resource_type]}


def patient_in(caller: Caller, service: str) -> str:
    """A patient for ``service``'s resources to be about: referral holds Patients, careplan only refers to
    them (its patients come with enrolments)."""
    if service != "referral":
        return str(uuid.uuid4())
    return str(caller.ok("POST", f"{service}/fhir/Patient", {"resourceType": "Patient"})["id"])


def prerequisites(caller: Caller, service: str, resource_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """What a resource needs beside it: a Slot its Schedule."""
    if resource_type == "Slot":
        schedule = caller.ok("POST", f"{service}/fhir/Schedule", resource_body("Schedule", "x"))
        body = {**body, "schedule": {"reference": f"Schedule/{schedule['id']}"}}
    return body


def rest_writes(system: EmbeddedSystem) -> list[tuple[str, str, str]]:
    return [
        (service, resource_type, interaction)
        for service in SERVICES
        for resource_type, config in system.services[service].kernel.resources.items()
        for interaction in WRITES
        if interaction in config.interactions
    ]


def operation_writes(system: EmbeddedSystem) -> set[tuple[str, str, str, str]]:
    """(service, resource type, operation, method) of every operation call that changes something."""
    found = set()
    for service in SERVICES:
        for op in system.services[service].kernel.operations:
            for method in op.methods:
                if op.scope[1] in ("c", "u", "d") or method in op.write_methods:
                    found.add((service, str(op.resource_type), op.name, method))
    return found


# ---- REST: create, update, delete of every type -------------------------------------------------
def _rest_cases() -> list[tuple[str, str, str]]:
    # The types each service serves with writes; `test_every_write_is_covered` checks this list.
    referral = ["Patient", "ServiceRequest", "Condition", "MedicationRequest", "MedicationStatement"]
    careplan = [
        *("CarePlan", "Goal", "CareTeam", "Encounter", "ServiceRequest", "Appointment", "Schedule"),
        *("Slot", "RelatedPerson", "List", "QuestionnaireResponse", "Questionnaire", "PlanDefinition"),
        *("CodeSystem", "ValueSet", "Measure", "MeasureReport", "Task", "Observation"),
    ]
    return [
        (service, resource_type, interaction)
        for service, types in (("referral", [*referral, "Observation"]), ("careplan", careplan))
        for resource_type in types
        for interaction in WRITES
    ]


REST_CASES = _rest_cases()


@pytest.mark.parametrize(("service", "resource_type", "interaction"), REST_CASES)
def test_a_repeated_rest_write_is_processed_once(
    caller: Caller, service: str, resource_type: str, interaction: str
) -> None:
    patient = patient_in(caller, service) if resource_type != "Patient" else "none"
    body = prerequisites(caller, service, resource_type, resource_body(resource_type, patient))
    path = f"{service}/fhir/{resource_type}"
    if interaction == "create":
        sent_twice(caller, service, "POST", path, body)
        return
    stored = caller.ok("POST", path, body)
    if interaction == "update":
        changed = {**stored, "meta": {}, "language": "en-GB"}
        sent_twice(caller, service, "PUT", f"{path}/{stored['id']}", changed)
    else:
        sent_twice(caller, service, "DELETE", f"{path}/{stored['id']}")


# ---- referral's operations ------------------------------------------------------------------------
def bars_message(system: EmbeddedSystem) -> dict[str, Any]:
    """The BaRS example addressed to us, every uuid renewed (a new referral)."""
    message = json.loads((BARS_EXAMPLES / "ValidationRequest_POST.json").read_text())
    endpoint = system.services["referral"].settings.bars_endpoint  # type: ignore[attr-defined]
    message["entry"][0]["resource"]["destination"][0]["endpoint"] = endpoint
    text = json.dumps(message)
    for old in set(UUID.findall(text)):
        text = text.replace(old, str(uuid.uuid4()))
    return json.loads(text)  # type: ignore[no-any-return]


def test_a_repeated_bars_message_is_processed_once(caller: Caller) -> None:
    message = bars_message(caller.system)
    sent_twice(caller, "referral", "POST", "referral/fhir/$process-message", message)
    # The same id on another message: refused by the claim (the message itself was never seen).
    another = bars_message(caller.system)
    sent_twice(
        caller,
        "referral",
        "POST",
        "referral/fhir/$process-message",
        another,
        again=bars_message(caller.system),
    )


def test_a_malformed_message_under_a_used_request_id_is_a_400_not_a_409(caller: Caller) -> None:
    """The message is checked before the id is claimed: a malformed one is refused for what it is, and
    claims nothing (the corrected message under the same id is then processed)."""
    request_id = str(uuid.uuid4())
    path = "referral/fhir/$process-message"
    assert caller.send("POST", path, bars_message(caller.system), request_id).status_code == 201
    malformed = bars_message(caller.system)
    del malformed["entry"][0]  # no MessageHeader
    assert caller.send("POST", path, malformed, request_id).status_code == 400
    fresh_id = str(uuid.uuid4())
    assert caller.send("POST", path, malformed, fresh_id).status_code == 400
    assert caller.send("POST", path, bars_message(caller.system), fresh_id).status_code == 201


def params(**values: Any) -> dict[str, Any]:
    parts = []
    for name, value in values.items():
        kind = {bool: "valueBoolean", str: "valueString"}[type(value)]
        if name in ("status",):
            kind = "valueCode"
        if name in ("start", "date"):
            kind = "valueDate"
        parts.append({"name": name, kind: value})
    return {"resourceType": "Parameters", "parameter": parts}


TASK_STEPS: list[tuple[str, dict[str, Any]]] = [
    ("transition", params(status="eligible")),
    ("invite", params()),
    ("record-consent", params(consented=True)),
    ("enrol", params(start="2030-01-01")),
    ("discharge", params(date="2030-02-01")),
]


def referral_task(caller: Caller) -> str:
    """A REST referral's workflow Task, awaiting a project worker's review (no records: needs review)."""
    patient = patient_in(caller, "referral")
    caller.ok("POST", "referral/fhir/ServiceRequest", resource_body("ServiceRequest", patient))
    bundle = caller.ok("GET", f"referral/fhir/Task?patient=Patient/{patient}")
    task = bundle["entry"][0]["resource"]
    assert task["businessStatus"]["coding"][0]["code"] == "needs-review", task["businessStatus"]
    return str(task["id"])


@pytest.mark.parametrize("step", range(len(TASK_STEPS)), ids=[name for name, _ in TASK_STEPS])
def test_a_repeated_task_operation_is_processed_once(caller: Caller, step: int) -> None:
    task = referral_task(caller)
    for name, body in TASK_STEPS[:step]:
        caller.ok("POST", f"referral/fhir/Task/{task}/${name}", body)
    name, body = TASK_STEPS[step]
    sent_twice(caller, "referral", "POST", f"referral/fhir/Task/{task}/${name}", body)


def test_a_repeated_invitation_template_change_is_processed_once(caller: Caller) -> None:
    template = caller.ok("GET", "referral/fhir/Communication/$invitation-template")
    text = next(p["valueString"] for p in template["parameter"] if p["name"] == "template")
    body = {"resourceType": "Parameters", "parameter": [{"name": "template", "valueString": f"{text}\n"}]}
    sent_twice(caller, "referral", "POST", "referral/fhir/Communication/$invitation-template", body)


# ---- careplan's operations ----------------------------------------------------------------------
def enrolled(caller: Caller) -> tuple[str, dict[str, Any]]:
    """A patient referred, consented and enrolled through referral's workflow (from 2024-01-10), and the
    CarePlan careplan made of the ``patient.enrolled`` event."""
    task = referral_task(caller)
    for name, body in TASK_STEPS[:3]:
        caller.ok("POST", f"referral/fhir/Task/{task}/${name}", body)
    caller.ok("POST", f"referral/fhir/Task/{task}/$enrol", params(start="2024-01-10"))
    patient = caller.ok("GET", f"referral/fhir/Task/{task}")["for"]["reference"]

    def plan() -> dict[str, Any] | None:
        found = caller.ok("GET", f"careplan/fhir/CarePlan?patient={patient}").get("entry", [])
        return found[0]["resource"] if found else None

    return patient, eventually(plan, what="the enrolled patient's CarePlan")


def reviewed(caller: Caller, patient: str) -> None:
    """medreview.completed for ``patient``: 320 mg/day oral morphine equivalent, a high dose, in February."""
    observation = {
        "resourceType": "Observation",
        "id": f"ome-{uuid.uuid4()}",
        "status": "final",
        "code": {"text": "Total daily oral morphine equivalent"},
        "subject": {"reference": patient},
        "effectiveDateTime": "2024-02-01T10:00:00Z",
        "valueQuantity": {
            "value": 320,
            "unit": "mg/d",
            "system": "http://unitsofmeasure.org",
            "code": "mg/d",
        },
    }
    issue = {
        "resourceType": "DetectedIssue",
        "id": f"issue-{uuid.uuid4()}",
        "status": "final",
        "code": {"coding": [{"system": RISK, "code": "ome-high-dose"}]},
        "severity": "high",
        "patient": {"reference": patient},
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in (observation, issue)],
    }
    event = new_event(
        MEDREVIEW_COMPLETED_V1,
        source="/painreview/medreview",
        subject=f"Observation/{observation['id']}",
        practice=caller.practice,
        data=bundle,
    )
    with caller.system.services["medreview"].engine.begin() as conn:
        record_event(conn, event)


RISK = "https://pain-review.example.org/fhir/CodeSystem/medreview-risk"
MARCH = {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2024-03"}]}
AGREED = {
    "resourceType": "Parameters",
    "parameter": [
        {"name": "patientAgreement", "valueDateTime": "2024-02-01"},
        {"name": "projectWorkerAgreement", "valueDateTime": "2024-02-01"},
    ],
}


def slot(caller: Caller) -> str:
    schedule = caller.ok(
        "POST",
        "careplan/fhir/Schedule",
        {"resourceType": "Schedule", "active": True, "actor": [{"reference": "Practitioner/pw1"}]},
    )
    created = caller.ok(
        "POST",
        "careplan/fhir/Slot",
        {
            "resourceType": "Slot",
            "schedule": {"reference": f"Schedule/{schedule['id']}"},
            "status": "free",
            "start": "2024-03-08T10:00:00Z",
            "end": "2024-03-08T11:00:00Z",
            "serviceType": [{"text": "One-to-one session"}],
            "extension": [
                {"url": SETTING_EXTENSION, "valueCoding": {"system": SETTING_SYSTEM, "code": "practice"}}
            ],
        },
    )
    return str(created["id"])


def booking(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "patient", "valueReference": {"reference": patient}}],
    }


def _apply(caller: Caller) -> tuple[str, Any]:
    patient, _plan = enrolled(caller)
    return f"careplan/fhir/PlanDefinition/pain-management-core/$apply?subject={patient}", {
        "resourceType": "Parameters"
    }


def _activate(caller: Caller) -> tuple[str, Any]:
    _patient, plan = enrolled(caller)
    return f"careplan/fhir/CarePlan/{plan['id']}/$activate", AGREED


def _plan_summary(caller: Caller) -> tuple[str, Any]:
    _patient, plan = enrolled(caller)
    return f"careplan/fhir/CarePlan/{plan['id']}/$gp-summary", {"resourceType": "Parameters"}


def _session_summary(caller: Caller) -> tuple[str, Any]:
    patient, _plan = enrolled(caller)
    session = {
        **resource_body("Encounter", patient.removeprefix("Patient/")),
        "period": {"start": "2024-02-14T10:00:00Z", "end": "2024-02-14T11:00:00Z"},
    }
    encounter = caller.ok("POST", "careplan/fhir/Encounter", session)
    return f"careplan/fhir/Encounter/{encounter['id']}/$gp-summary", {"resourceType": "Parameters"}


def _propose(caller: Caller) -> tuple[str, Any]:
    patient, _plan = enrolled(caller)
    ask = {
        **MARCH,
        "parameter": [*MARCH["parameter"], {"name": "patient", "valueReference": {"reference": patient}}],
    }
    return "careplan/fhir/Appointment/$propose-mdt-review", ask


def _book(caller: Caller) -> tuple[str, Any]:
    patient, _plan = enrolled(caller)
    return f"careplan/fhir/Slot/{slot(caller)}/$book", booking(patient)


def _attendance(caller: Caller) -> tuple[str, Any]:
    patient, _plan = enrolled(caller)
    appointment = caller.ok("POST", f"careplan/fhir/Slot/{slot(caller)}/$book", booking(patient))
    outcome = {"resourceType": "Parameters", "parameter": [{"name": "outcome", "valueCode": "attended"}]}
    return f"careplan/fhir/Appointment/{appointment['id']}/$record-attendance", outcome


def _agenda(caller: Caller) -> tuple[str, Any]:
    return "careplan/fhir/Appointment/$mdt-agenda", MARCH


def _mdt_outcome(caller: Caller) -> tuple[str, Any]:
    patient, _plan = enrolled(caller)
    reviewed(caller, patient)

    def agenda() -> dict[str, Any] | None:
        built = caller.ok("POST", "careplan/fhir/Appointment/$mdt-agenda", MARCH)
        listed = built["entry"][1]["resource"]
        on = any(e["item"]["reference"] == patient for e in listed.get("entry", []))
        return listed if on else None

    listed = eventually(agenda, what="the patient on the MDT agenda")
    outcome = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "valueReference": {"reference": patient}},
            {"name": "outcome", "valueCode": "slow-taper"},
        ],
    }
    return f"careplan/fhir/List/{listed['id']}/$record-mdt-outcome", outcome


CAREPLAN_OPERATIONS: dict[tuple[str, str], Callable[[Caller], tuple[str, Any]]] = {
    ("PlanDefinition", "apply"): _apply,
    ("CarePlan", "activate"): _activate,
    ("CarePlan", "gp-summary"): _plan_summary,
    ("Encounter", "gp-summary"): _session_summary,
    ("Appointment", "propose-mdt-review"): _propose,
    ("Slot", "book"): _book,
    ("Appointment", "record-attendance"): _attendance,
    ("Appointment", "mdt-agenda"): _agenda,
    ("List", "record-mdt-outcome"): _mdt_outcome,
}


@pytest.mark.parametrize(
    "operation", list(CAREPLAN_OPERATIONS), ids=["/$".join(k) for k in CAREPLAN_OPERATIONS]
)
def test_a_repeated_careplan_operation_is_processed_once(caller: Caller, operation: tuple[str, str]) -> None:
    path, body = CAREPLAN_OPERATIONS[operation](caller)
    sent_twice(caller, "careplan", "POST", path, body)


# ---- the list is complete ----------------------------------------------------------------------
COVERED_OPERATIONS = {
    ("referral", "ServiceRequest", "process-message", "POST"),
    *(("referral", "Task", name, "POST") for name, _ in TASK_STEPS),
    ("referral", "Communication", "invitation-template", "POST"),
    *(("careplan", resource_type, name, "POST") for resource_type, name in CAREPLAN_OPERATIONS),
}


def test_every_write_is_covered(secured: tuple[EmbeddedSystem, TestClient, Tokens]) -> None:
    system, _client, _tokens = secured
    assert sorted(rest_writes(system)) == sorted(REST_CASES)
    assert operation_writes(system) == COVERED_OPERATIONS
