"""GP direct REST: a ServiceRequest posted on its own starts the same workflow as a BaRS message."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.support.referral import Referral
from tests.support.referral_records import CHRONIC_BACK_PAIN, monthly, patient


def posted_patient(referral: Referral, serial: int = 3, **extra: Any) -> str:
    # the server assigns the id: none is sent (a null id is invalid FHIR JSON)
    unsaved = {k: v for k, v in patient(serial=serial).items() if k != "id"}
    created = referral.post("Patient", {**unsaved, **extra})
    assert created.status_code == 201, created.text
    return f"Patient/{created.json()['id']}"


def service_request(subject: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": subject},
        "authoredOn": "2024-06-15",
        **extra,
    }


def test_a_posted_service_request_starts_the_workflow_and_records_referral_received(
    referral: Referral,
) -> None:
    subject = posted_patient(referral)
    created = referral.post("ServiceRequest", service_request(subject))
    assert created.status_code == 201, created.text
    task = referral.task_for(created.json()["id"])
    assert task["for"] == {"reference": subject}
    assert task["owner"]["identifier"]["value"] == referral.practice
    [received] = referral.events("referral.received")
    assert [e["resource"]["resourceType"] for e in received["data"]["entry"]] == [
        "ServiceRequest",
        "Patient",
        "Task",
    ]
    assert task["businessStatus"]["coding"][0]["code"] == "needs-review"  # no medicines held yet


def test_a_referral_of_a_patient_with_the_records_held_here_is_accepted(referral: Referral) -> None:
    subject = posted_patient(referral)
    for resource in [*monthly(date(2023, 6, 1), 12), dict(CHRONIC_BACK_PAIN)]:
        body = {**resource, "subject": {"reference": subject}}
        body.pop("id")
        assert referral.post(resource["resourceType"], body).status_code == 201
    created = referral.post("ServiceRequest", service_request(subject)).json()
    [accepted] = referral.events("referral.accepted")
    assert accepted["subject"] == f"ServiceRequest/{created['id']}"
    assert [e["resource"]["resourceType"] for e in accepted["data"]["entry"]] == [
        "ServiceRequest",
        "Patient",
        "Task",
    ]


def test_a_referral_of_a_child_is_rejected_and_the_service_request_revoked(referral: Referral) -> None:
    subject = posted_patient(referral, birthDate="2010-01-01")
    created = referral.post("ServiceRequest", service_request(subject)).json()
    [rejected] = referral.events("referral.rejected")
    task = rejected["data"]["entry"][2]["resource"]
    assert {c["code"] for c in task["statusReason"]["coding"]} == {"under-18"}
    assert referral.get(f"ServiceRequest/{created['id']}").json()["status"] == "revoked"


def test_a_referral_whose_patient_is_not_held_here_is_refused_and_leaves_nothing(referral: Referral) -> None:
    response = referral.post("ServiceRequest", service_request("Patient/not-here"))
    assert response.status_code == 422
    assert referral.get("ServiceRequest", _summary="count").json()["total"] == 0
    assert referral.events() == []


def test_revoking_a_referral_cancels_its_workflow_once(referral: Referral) -> None:
    subject = posted_patient(referral)
    created = referral.post("ServiceRequest", service_request(subject)).json()
    revoked = {**created, "status": "revoked"}
    response = referral.client.put(
        f"/referral/fhir/ServiceRequest/{created['id']}", json=revoked, headers=referral.headers()
    )
    assert response.status_code == 200, response.text
    assert referral.task_for(created["id"])["status"] == "cancelled"
    again = {**response.json(), "status": "active"}
    refused = referral.client.put(
        f"/referral/fhir/ServiceRequest/{created['id']}", json=again, headers=referral.headers()
    )
    assert refused.status_code == 422


def test_a_referral_cannot_change_patient(referral: Referral) -> None:
    created = referral.post("ServiceRequest", service_request(posted_patient(referral))).json()
    other = posted_patient(referral, serial=4)  # another person: one Patient per NHS number here
    response = referral.client.put(
        f"/referral/fhir/ServiceRequest/{created['id']}",
        json={**created, "subject": {"reference": other}},
        headers=referral.headers(),
    )
    assert response.status_code == 422
