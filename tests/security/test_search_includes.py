"""Finding 2 (high): ``_include``/``_revinclude`` skipped scope and role checks, so a token scoped to one
type read others through a search. Replayed as the attack: a search whose includes would return a type
the token may not read is refused with 403 (and audited), whatever the include names or finds."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from tests.support.tokens import Tokens

FHIR = {"content-type": "application/fhir+json"}
Secured = tuple[EmbeddedSystem, TestClient, Tokens]


def _call(client: TestClient, method: str, url: str, token: str, body: Any = None) -> Any:
    return client.request(method, url, json=body, headers={**FHIR, "authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def seeded(secured: Secured) -> dict[str, str]:
    _system, client, tokens = secured
    writer = tokens.valid("A81001", "system/*.cruds")
    patient = _call(client, "POST", "/referral/fhir/Patient", writer, {"resourceType": "Patient"}).json()
    medication = _call(
        client,
        "POST",
        "/referral/fhir/MedicationRequest",
        writer,
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "Morphine 10mg modified-release tablets"},
            "subject": {"reference": f"Patient/{patient['id']}"},
        },
    ).json()
    return {"patient": patient["id"], "medication": medication["id"]}


def _types(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["resourceType"] for e in bundle.get("entry", ())}


def test_a_patient_token_gets_no_medication_requests_or_audit_events_through_revinclude(
    secured: Secured, seeded: dict[str, str]
) -> None:
    _system, client, tokens = secured
    token = tokens.valid("A81001", "system/Patient.rs")
    url = f"/referral/fhir/Patient?_id={seeded['patient']}"
    assert _types(_call(client, "GET", url, token).json()) == {"Patient"}
    for attack in (
        f"{url}&_revinclude=MedicationRequest:subject&_revinclude=AuditEvent:entity",
        f"{url}&_revinclude=MedicationRequest:subject",
        f"{url}&_revinclude=AuditEvent:entity",
    ):
        response = _call(client, "GET", attack, token)
        assert response.status_code == 403, (attack, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
        assert seeded["medication"] not in response.text


def test_a_medication_request_token_gets_no_patient_through_include_typed_or_not(
    secured: Secured, seeded: dict[str, str]
) -> None:
    _system, client, tokens = secured
    token = tokens.valid("A81001", "system/MedicationRequest.rs")
    assert _call(client, "GET", f"/referral/fhir/Patient/{seeded['patient']}", token).status_code == 403
    base = f"/referral/fhir/MedicationRequest?_id={seeded['medication']}"
    for attack in (
        f"{base}&_include=MedicationRequest:subject",
        f"{base}&_include=MedicationRequest:subject:Patient",
    ):
        response = _call(client, "GET", attack, token)
        assert response.status_code == 403, (attack, response.text)
        assert '"resourceType":"Patient"' not in response.text.replace(" ", "")


def test_the_post_search_form_is_held_to_the_same_rule(secured: Secured, seeded: dict[str, str]) -> None:
    _system, client, tokens = secured
    token = tokens.valid("A81001", "system/MedicationRequest.rs")
    response = client.post(
        "/referral/fhir/MedicationRequest/_search",
        data={"_id": seeded["medication"], "_include": "MedicationRequest:subject"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403, response.text


def test_a_gp_system_with_every_scope_still_gets_no_audit_events_through_revinclude(
    secured: Secured, seeded: dict[str, str]
) -> None:
    _system, client, tokens = secured
    token = tokens.valid("A81001", "system/*.cruds")
    url = f"/referral/fhir/Patient?_id={seeded['patient']}&_revinclude=AuditEvent:entity"
    assert _call(client, "GET", url, token).status_code == 403


def test_a_token_that_may_read_both_types_gets_the_included_resources(
    secured: Secured, seeded: dict[str, str]
) -> None:
    _system, client, tokens = secured
    token = tokens.valid("A81001", "system/Patient.rs system/MedicationRequest.rs")
    rev = _call(
        client,
        "GET",
        f"/referral/fhir/Patient?_id={seeded['patient']}&_revinclude=MedicationRequest:subject",
        token,
    )
    assert rev.status_code == 200 and _types(rev.json()) == {"Patient", "MedicationRequest"}
    inc = _call(
        client,
        "GET",
        f"/referral/fhir/MedicationRequest?_id={seeded['medication']}&_include=MedicationRequest:subject",
        token,
    )
    assert inc.status_code == 200 and _types(inc.json()) == {"Patient", "MedicationRequest"}


def test_a_refused_include_is_audited_as_a_failure(secured: Secured, seeded: dict[str, str]) -> None:
    _system, client, tokens = secured
    token = tokens.valid("A81001", "system/Patient.rs")
    request_id = "7d1c1f5e-1b7a-4a55-9d8e-include-refused"
    client.get(
        f"/referral/fhir/Patient?_id={seeded['patient']}&_revinclude=MedicationRequest:subject",
        headers={"authorization": f"Bearer {token}", "x-request-id": request_id},
    )
    auditor = tokens.valid("A81001", "system/AuditEvent.rs", role="auditor")
    events = _call(client, "GET", "/referral/fhir/AuditEvent?outcome=4&_count=100", auditor).json()
    assert any(request_id in str(e["resource"]) for e in events.get("entry", ()))
