"""Every request a practice makes leaves exactly one AuditEvent: counted, not sampled."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.running import RunningSystem

pytestmark = pytest.mark.e2e
PRACTICE = "E85005"
FHIR = "application/fhir+json"


def test_an_audit_event_exists_for_every_request_including_refusals_and_failures(
    embedded_system: RunningSystem,
) -> None:
    base = embedded_system.base
    headers = {"authorization": f"Bearer {embedded_system.token(PRACTICE)}", "content-type": FHIR}
    narrow = {"authorization": f"Bearer {embedded_system.token(PRACTICE, 'system/Patient.r')}"}
    made = {"referral": 0, "careplan": 0, "medreview": 0, "gpconnect": 0}

    def call(service: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        made[service] += 1
        return httpx.request(method, f"{base}/{service}/fhir{path}", **kwargs)  # type: ignore[arg-type]

    patient = call("referral", "POST", "/Patient", json={"resourceType": "Patient"}, headers=headers).json()
    call("referral", "GET", f"/Patient/{patient['id']}", headers=headers)
    call("referral", "GET", "/Patient", params={"_count": 1}, headers=headers)
    call("referral", "GET", "/Patient/does-not-exist", headers=headers)  # 404
    call(
        "referral", "PUT", f"/Patient/{patient['id']}", json=patient, headers={**headers, "if-match": 'W/"9"'}
    )
    call("referral", "GET", f"/Patient/{patient['id']}/_history", headers=headers)
    call("referral", "POST", "/Patient", json={"resourceType": "Patient"}, headers=narrow)  # 403
    plan = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient['id']}"},
    }
    call("careplan", "POST", "/CarePlan", json=plan, headers=headers)
    call("careplan", "GET", "/CarePlan", params={"patient": patient["id"]}, headers=headers)
    call("medreview", "GET", "/MedicationRequest", headers=headers)
    call("gpconnect", "GET", "/Provenance", headers=headers)

    auditor = {
        "authorization": f"Bearer {embedded_system.token(PRACTICE, 'system/AuditEvent.rs', 'auditor')}"
    }
    for service, expected in made.items():
        # The listing itself is audited only after it was read: it does not count itself.
        assert len(practice_events(f"{base}/{service}/fhir/AuditEvent?_count=100", auditor)) == expected, (
            service
        )
    failed = practice_events(f"{base}/referral/fhir/AuditEvent?outcome=4&_count=100", auditor)
    assert len(failed) == 3  # the 404, the 412 and the 403


def practice_events(url: str | None, headers: dict[str, str]) -> list[dict[str, Any]]:
    """This practice's AuditEvents, every page (auditors also see other tests' unauthenticated calls)."""
    found: list[dict[str, Any]] = []
    while url:
        bundle = httpx.get(url, headers=headers)
        assert bundle.status_code == 200, bundle.text
        for entry in bundle.json().get("entry", []):
            agents = entry["resource"]["agent"]
            if any(a["who"].get("identifier", {}).get("value") == PRACTICE for a in agents):
                found.append(entry["resource"])
        url = next((link["url"] for link in bundle.json()["link"] if link["relation"] == "next"), None)
    return found
