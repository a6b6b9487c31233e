"""Finding 4 (medium): a resource whose patient reference was absolute (``http://.../Patient/<id>``) or
named the patient by identifier only recorded no patient, so service staff saw it whether or not the
patient was enrolled. Replayed as the attack: the patient is always recorded, resolved from an absolute
or versioned reference, or, when it cannot be resolved, as one no enrolment ever matches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from shared.fhir.searchparams import UNRESOLVED_PATIENT, patient_of
from shared.fhir.tenancy import record_enrolment
from tests.support.tokens import Tokens

PRACTICE = "H81008"
FHIR = {"content-type": "application/fhir+json"}
Secured = tuple[EmbeddedSystem, TestClient, Tokens]


def _post(client: TestClient, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body, headers={**FHIR, "authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _medication(subject: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Oxycodone 5mg capsules"},
        "subject": subject,
    }


def test_staff_see_no_unenrolled_patients_data_whatever_form_its_reference_takes(secured: Secured) -> None:
    system, client, tokens = secured
    gp = tokens.valid(PRACTICE)
    enrolled = _post(client, gp, "/referral/fhir/Patient", {"resourceType": "Patient"})["id"]
    other = _post(client, gp, "/referral/fhir/Patient", {"resourceType": "Patient"})["id"]
    with system.services["referral"].engine.begin() as conn:
        record_enrolment(
            conn,
            practice=PRACTICE,
            patient=f"Patient/{enrolled}",
            episode="EpisodeOfCare/e1",
            enrolled_at=datetime.now(UTC),
        )
    attacks = {
        "absolute": {"reference": f"http://127.0.0.1:8000/referral/fhir/Patient/{other}"},
        "versioned": {"reference": f"Patient/{other}/_history/1"},
        "identifier only": {
            "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000026"}
        },
        "typed identifier": {
            "type": "Patient",
            "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000026"},
        },
        "display only": {"display": "A patient"},
        "another server's": {"reference": "https://elsewhere.example/fhir/Patient/abc"},
    }
    hidden = {
        name: _post(client, gp, "/referral/fhir/MedicationRequest", _medication(s))["id"]
        for name, s in attacks.items()
    }
    seen = _post(
        client,
        gp,
        "/referral/fhir/MedicationRequest",
        _medication({"reference": f"http://127.0.0.1:8000/referral/fhir/Patient/{enrolled}"}),
    )["id"]

    worker = tokens.sign(tokens.claims("Y09999", role="project-worker", practices=[PRACTICE]))
    auth = {"authorization": f"Bearer {worker}"}
    listed = client.get("/referral/fhir/MedicationRequest", params={"_count": 100}, headers=auth).json()
    ids = {e["resource"]["id"] for e in listed.get("entry", ())}
    assert seen in ids  # an absolute reference to an enrolled patient resolves to them
    assert not ids & set(hidden.values()), {n for n, i in hidden.items() if i in ids}
    for name, resource_id in hidden.items():
        assert (
            client.get(f"/referral/fhir/MedicationRequest/{resource_id}", headers=auth).status_code == 404
        ), name
    # The practice's own GP system still sees every one of them.
    gp_listed = client.get(
        "/referral/fhir/MedicationRequest", params={"_count": 100}, headers={"authorization": f"Bearer {gp}"}
    )
    assert set(hidden.values()) | {seen} <= {e["resource"]["id"] for e in gp_listed.json()["entry"]}


def test_staff_cannot_write_for_a_patient_they_cannot_name(secured: Secured) -> None:
    _system, client, tokens = secured
    worker = tokens.sign(tokens.claims("Y09999", role="project-worker", practices=[PRACTICE]))
    body = _medication({"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000034"}})
    response = client.post(
        "/referral/fhir/MedicationRequest", json=body, headers={**FHIR, "authorization": f"Bearer {worker}"}
    )
    assert response.status_code == 404


def test_the_patient_a_reference_names_as_a_table() -> None:
    def of(subject: Any, kind: str = "MedicationRequest") -> str | None:
        return patient_of({"resourceType": kind, "subject": subject})

    assert of({"reference": "Patient/p1"}) == "Patient/p1"
    assert of({"reference": "https://x.example/fhir/Patient/p1"}) == "Patient/p1"
    assert of({"reference": "Patient/p1/_history/3"}) == "Patient/p1"
    assert of({"reference": "Group/g1"}) is None
    assert of({"reference": "urn:uuid:4b0b7f8e-0000-4000-8000-000000000001"}) is None
    assert of({"identifier": {"value": "9990000018"}}) == UNRESOLVED_PATIENT
    assert of({"type": "Group", "identifier": {"value": "g"}}) is None
    assert of({"reference": "Patient?identifier=9990000018"}) == UNRESOLVED_PATIENT
    appointment = {
        "resourceType": "Appointment",
        "participant": [{"actor": {"identifier": {"value": "GMC1"}}}],
    }
    assert patient_of(appointment) is None  # an actor is a patient only when it says so
    appointment["participant"].append({"actor": {"reference": "Patient/p2"}})
    assert patient_of(appointment) == "Patient/p2"
