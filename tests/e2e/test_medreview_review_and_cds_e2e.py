"""medreview on the running system, over HTTP with a CLI-minted token: a review, its trend, CDS Hooks."""

from __future__ import annotations

import uuid

import httpx
import pytest

from shared.fhir.models import validate_resource
from tests.e2e.running import RunningSystem

pytestmark = pytest.mark.e2e
FHIR = "application/fhir+json"
OME_CODE = "https://pain-review.example.org/fhir/CodeSystem/medreview-observation|total-daily-ome"


def test_a_review_over_http_is_stored_as_a_trend_and_shown_by_the_patient_view_hook(
    embedded_system: RunningSystem,
) -> None:
    token = embedded_system.token()
    patient = str(uuid.uuid4())
    headers = {"authorization": f"Bearer {token}", "content-type": FHIR}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "fen",
                    "status": "active",
                    "intent": "plan",
                    "subject": {"reference": f"Patient/{patient}"},
                    "medicationCodeableConcept": {"text": "Fentanyl 75micrograms/hour transdermal patches"},
                    "dosageInstruction": [{"text": "apply one patch every 72 hours"}],
                }
            }
        ],
    }
    with httpx.Client(base_url=f"{embedded_system.base}/medreview", headers=headers, timeout=30) as api:
        answer = api.post("/fhir/$medication-review", json=bundle)
        assert answer.status_code == 200
        validate_resource(answer.json(), "Parameters")
        assert answer.json()["parameter"][0]["valueQuantity"]["value"] == 180
        trend = api.get(
            "/fhir/Observation", params={"patient": f"Patient/{patient}", "code": OME_CODE}
        ).json()
        assert trend["total"] == 1
        services = api.get("/cds-services").json()["services"]
        assert {s["id"] for s in services} == {"opioid-order-sign", "opioid-patient-view"}
        view = {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/gp", "patientId": patient},
        }
        cards = api.post("/cds-services/opioid-patient-view", json=view).json()["cards"]
        assert (
            cards[0]["summary"].startswith("Opioid dose 180 mg OME a day")
            and cards[0]["indicator"] == "warning"
        )
    assert httpx.get(f"{embedded_system.base}/medreview/cds-services").status_code == 401
