"""Careplan in the embedded system: a client for one practice's careplan API that can also publish
events into it, the events other services send (an enrolment, a medication review), and the requests
the careplan contract tests share (community referrals, schedules, slots, bookings)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from painreview.embedded import EmbeddedSystem
from services.careplan.domain.catalogue import (
    CAREPLAN_CATEGORY_SYSTEM,
    COST_EXTENSION,
    interventions,
)
from services.careplan.domain.sessions import (
    CAPACITY_EXTENSION,
    FORMAT_EXTENSION,
    FORMAT_SYSTEM,
    SETTING_EXTENSION,
    SETTING_SYSTEM,
)
from services.careplan.tables import medication_review
from shared.auth import mint_local_token
from shared.contracts import (
    MEDREVIEW_COMPLETED_V1,
    PATIENT_ENROLLED_V1,
    EventType,
    new_event,
)
from shared.fhir import validate_resource
from shared.fhir.models import validate_model
from shared.outbox import record_event
from tests.support import eventually
from tests.support.invariants import assert_invariants


class Careplan:
    """The embedded system with a client for one practice's careplan API."""

    def __init__(self, system: EmbeddedSystem, client: TestClient, practice: str = "A81001") -> None:
        self.system, self.client, self.practice = system, client, practice
        self.token = mint_local_token(system.auth, practice=practice, scope="system/*.cruds")

    def headers(self, **extra: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}", "content-type": "application/fhir+json", **extra}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/careplan/fhir{path}", params=params, headers=self.headers())

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(f"/careplan/fhir{path}", json=body, headers=self.headers(**headers))

    def put(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.put(f"/careplan/fhir{path}", json=body, headers=self.headers(**headers))

    def publish(self, producer: str, type_: EventType, subject: str, data: dict[str, Any]) -> None:
        """Write an event into ``producer``'s outbox, as that service would; the relay delivers it."""
        with self.system.services[producer].engine.begin() as conn:
            record_event(
                conn,
                new_event(
                    type_,
                    source=f"/painreview/{producer}",
                    subject=subject,
                    practice=self.practice,
                    data=data,
                ),
            )

    def search(self, resource_type: str, **params: Any) -> list[dict[str, Any]]:
        bundle = self.get(f"/{resource_type}", **params).json()
        return [e["resource"] for e in bundle.get("entry", [])]


def enrolment(
    patient: str, episode: str, *, start: str = "2024-01-10", gp: str = "Practitioner/gp1"
) -> dict[str, Any]:
    """A ``patient.enrolled`` Bundle as docs/EVENTS.md describes it (synthetic, 999 range NHS number)."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": f"EpisodeOfCare/{episode}",
                "resource": {
                    "resourceType": "EpisodeOfCare",
                    "id": episode,
                    "status": "active",
                    "patient": {"reference": f"Patient/{patient}"},
                    "managingOrganization": {
                        "identifier": {
                            "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                            "value": "A81001",
                        }
                    },
                    "period": {"start": start, "end": "2027-01-10"},
                },
            },
            {
                "fullUrl": f"Patient/{patient}",
                "resource": {
                    "resourceType": "Patient",
                    "id": patient,
                    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
                },
            },
            {
                "fullUrl": f"ServiceRequest/ref-{patient}",
                "resource": {
                    "resourceType": "ServiceRequest",
                    "id": f"ref-{patient}",
                    "status": "active",
                    "intent": "order",
                    "subject": {"reference": f"Patient/{patient}"},
                    "requester": {"reference": gp, "display": "Dr A Example"},
                },
            },
            {
                "fullUrl": f"Consent/consent-{patient}",
                "resource": {
                    "resourceType": "Consent",
                    "id": f"consent-{patient}",
                    "status": "active",
                    "scope": {"text": "treatment"},
                    "category": [{"text": "pain and opioid review"}],
                    "patient": {"reference": f"Patient/{patient}"},
                },
            },
            {
                "fullUrl": f"Condition/cond-{patient}",
                "resource": {
                    "resourceType": "Condition",
                    "id": f"cond-{patient}",
                    "code": {"text": "Osteoarthritis of knee"},
                    "subject": {"reference": f"Patient/{patient}"},
                },
            },
        ],
    }


def element_paths(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, dict):
        return {p for k, v in node.items() for p in {f"{prefix}.{k}", *element_paths(v, f"{prefix}.{k}")}}
    if isinstance(node, list):
        return {p for v in node for p in element_paths(v, prefix)}
    return set()


def assert_round_trips(resource: dict[str, Any]) -> None:
    """Valid R4 that keeps the invariants fhir.resources does not check (cpl-3); serialising the parsed model
    keeps every element, and a second pass changes nothing."""
    assert_invariants(resource)
    validate_resource(resource)
    once = json.loads(validate_model(resource).model_dump_json(exclude_none=True))
    assert element_paths(resource) <= element_paths(once), sorted(
        element_paths(resource) - element_paths(once)
    )
    twice = json.loads(validate_model(once).model_dump_json(exclude_none=True))
    assert twice == once


def community_referral(patient: str, code: str, cost: str, progress: str = "waiting") -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": CAREPLAN_CATEGORY_SYSTEM, "code": "social-prescribing"}]}],
        "code": interventions()[code].concept(),
        "subject": {"reference": f"Patient/{patient}"},
        "extension": [
            # Money.value is a JSON number in FHIR R4 (a string is refused as invalid R4 JSON)
            {"url": COST_EXTENSION, "valueMoney": {"value": float(cost), "currency": "GBP"}},
            {
                "url": "https://pain-review.example.org/fhir/StructureDefinition/community-service-status",
                "valueCoding": {
                    "system": "https://pain-review.example.org/fhir/CodeSystem/community-service-status",
                    "code": progress,
                },
            },
        ],
    }


RISK = "https://pain-review.example.org/fhir/CodeSystem/medreview-risk"


def enrol_patient(careplan: Careplan, patient: str) -> dict[str, Any]:
    careplan.publish(
        "referral", PATIENT_ENROLLED_V1, f"EpisodeOfCare/ep-{patient}", enrolment(patient, f"ep-{patient}")
    )
    plan = eventually(lambda: next(iter(careplan.search("CarePlan", patient=f"Patient/{patient}")), None))
    return plan


def publish_review(
    careplan: Careplan,
    patient: str,
    n: int,
    mg: int,
    *flags: str,
    at_least: bool = False,
    when: str | None = None,
) -> None:
    """medreview.completed as docs/EVENTS.md describes it: the total OME Observation, the DetectedIssues."""
    quantity: dict[str, Any] = {
        "value": mg,
        "unit": "mg/d",
        "system": "http://unitsofmeasure.org",
        "code": "mg/d",
    }
    if at_least:
        quantity["comparator"] = ">="
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"ome-{patient}-{n}",
        "status": "final",
        "code": {"text": "Total daily oral morphine equivalent"},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": quantity,
    }
    if when:
        observation["effectiveDateTime"] = when
    issues = [
        {
            "resourceType": "DetectedIssue",
            "id": f"issue-{patient}-{n}-{flag}",
            "status": "final",
            "code": {"coding": [{"system": RISK, "code": flag}]},
            "severity": "high",
            "patient": {"reference": f"Patient/{patient}"},
        }
        for flag in flags
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in (observation, *issues)
        ],
    }
    careplan.publish("medreview", MEDREVIEW_COMPLETED_V1, f"Observation/{observation['id']}", bundle)


def review_kept(careplan: Careplan, review: str) -> bool:
    with careplan.system.services["careplan"].engine.connect() as conn:
        found = conn.execute(select(medication_review.c.id).where(medication_review.c.review == review))
        return found.first() is not None


def wait_for_review(careplan: Careplan, review: str) -> None:
    eventually(lambda: review_kept(careplan, review))


def add_schedule(careplan: Careplan, name: str) -> str:
    created = careplan.post(
        "/Schedule",
        {
            "resourceType": "Schedule",
            "active": True,
            "actor": [{"reference": "Practitioner/pw1", "display": "Project worker"}],
            "comment": name,
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def add_slot(
    careplan: Careplan, schedule: str, start: str, end: str, *, capacity: int | None, setting: str
) -> dict[str, Any]:
    extension: list[dict[str, Any]] = [
        {"url": SETTING_EXTENSION, "valueCoding": {"system": SETTING_SYSTEM, "code": setting}}
    ]
    if capacity is not None:
        extension += [
            {"url": CAPACITY_EXTENSION, "valuePositiveInt": capacity},
            {"url": FORMAT_EXTENSION, "valueCoding": {"system": FORMAT_SYSTEM, "code": "group"}},
        ]
    created = careplan.post(
        "/Slot",
        {
            "resourceType": "Slot",
            "schedule": {"reference": f"Schedule/{schedule}"},
            "status": "free",
            "start": start,
            "end": end,
            "serviceType": [{"text": "Relaxation group" if capacity else "One-to-one session"}],
            "extension": extension,
        },
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def book_slot(careplan: Careplan, slot: str, patient: str, **more: Any) -> Any:
    parameters: list[dict[str, Any]] = [{"name": "patient", "valueReference": {"reference": patient}}]
    for carer in more.pop("carers", []):
        parameters.append({"name": "carer", "valueReference": {"reference": carer}})
    if more.get("waitlist"):
        parameters.append({"name": "waitlist", "valueBoolean": True})
    if more.get("channel"):
        parameters.append({"name": "channel", "valueCode": more["channel"]})
    if more.get("setting"):
        parameters.append({"name": "setting", "valueCode": more["setting"]})
    return careplan.post(f"/Slot/{slot}/$book", {"resourceType": "Parameters", "parameter": parameters})
