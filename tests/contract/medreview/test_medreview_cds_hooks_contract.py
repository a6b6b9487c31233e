"""CDS Hooks 2.0: discovery, ``order-sign`` and ``patient-view`` answers validate against the spec's shapes
(``schemas/``), need a bearer token, and only ever speak of the caller's own practice's patients."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.medreview import Medreview, medicine, new_patient, synced, validator

DISCOVERY = validator("cds-hooks-discovery.schema.json")
REQUEST = validator("cds-hooks-request.schema.json")
RESPONSE = validator("cds-hooks-response.schema.json")


def call(medreview: Medreview, service: str, body: dict[str, Any], token: str | None = None) -> Any:
    REQUEST.validate(body)  # our own test requests keep to the spec too
    return medreview.client.post(
        f"/medreview/cds-services/{service}",
        json=body,
        headers={"authorization": f"Bearer {token or medreview.token}"},
    )


def order_sign(
    patient: str, *drafts: dict[str, Any], prefetch: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/gp-1",
            "patientId": patient,
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": d} for d in drafts],
            },
        },
    }
    if prefetch:
        body["prefetch"] = prefetch
    return body


def draft(patient: str, id_: str, name: str, dosage: str) -> dict[str, Any]:
    return {**medicine(patient, id_, name, dosage), "status": "draft", "intent": "order"}


def summaries(response: Any) -> list[str]:
    return [c["summary"] for c in response.json()["cards"]]


def test_discovery_lists_both_services_in_the_specs_shape_behind_a_token(medreview: Medreview) -> None:
    assert medreview.client.get("/medreview/cds-services").status_code == 401
    response = medreview.client.get(
        "/medreview/cds-services", headers={"authorization": f"Bearer {medreview.token}"}
    )
    assert response.status_code == 200
    DISCOVERY.validate(response.json())
    assert {(s["hook"], s["id"]) for s in response.json()["services"]} == {
        ("order-sign", "opioid-order-sign"),
        ("patient-view", "opioid-patient-view"),
    }


def test_order_sign_adds_the_draft_to_the_stored_list_and_warns_over_120(medreview: Medreview) -> None:
    patient = new_patient()
    synced(
        medreview,
        patient,
        medicine(patient, f"{patient}-oxy", "Oxycodone 20mg modified-release tablets", "one twice a day"),
    )
    body = order_sign(
        patient,
        draft(patient, "new-mor", "Morphine sulfate 30mg modified-release tablets", "one twice a day"),
    )
    response = call(medreview, "opioid-order-sign", body)
    assert response.status_code == 200
    RESPONSE.validate(response.json())
    cards = response.json()["cards"]
    assert cards[0]["summary"] == "Opioid total with this order: 120 mg OME a day (now 60 mg)"
    crossing = next(c for c in cards if "takes the total over 120" in c["summary"])
    assert crossing["indicator"] == "warning"
    assert not any("referral" in s.lower() for s in summaries(response))  # already with the service


def test_order_sign_for_a_patient_unknown_here_suggests_a_referral_for_a_co_prescription(
    medreview: Medreview,
) -> None:
    patient = new_patient()
    prefetch = {
        "medications": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {"resource": medicine(patient, "dia", "Diazepam 5mg tablets", "one three times a day")}
            ],
        }
    }
    body = order_sign(
        patient, draft(patient, "cod", "Codeine 30mg tablets", "two four times a day"), prefetch=prefetch
    )
    response = call(medreview, "opioid-order-sign", body)
    RESPONSE.validate(response.json())
    cards = response.json()["cards"]
    assert any(c["summary"].startswith("Opioid prescribed with a benzodiazepine") for c in cards)
    referral = next(c for c in cards if "suggestions" in c)
    assert referral["selectionBehavior"] == "at-most-one"
    action = referral["suggestions"][0]["actions"][0]
    assert action["type"] == "create" and action["resource"]["resourceType"] == "ServiceRequest"


def test_order_sign_has_nothing_to_say_about_an_unrelated_order(medreview: Medreview) -> None:
    patient = new_patient()
    body = order_sign(patient, draft(patient, "amox", "Amoxicillin 500mg capsules", "one three times a day"))
    response = call(medreview, "opioid-order-sign", body)
    assert response.json() == {"cards": []}


def test_patient_view_shows_the_ome_trend_and_the_taper_status(medreview: Medreview) -> None:
    patient = new_patient()
    synced(
        medreview,
        patient,
        medicine(
            patient, f"{patient}-mor", "Morphine sulfate 60mg modified-release tablets", "one twice a day"
        ),
    )
    medreview.post(f"/fhir/Patient/{patient}/$medication-review", {"resourceType": "Parameters"})
    medreview.post(f"/fhir/Patient/{patient}/$propose-taper", {"resourceType": "Parameters"})
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/gp-1", "patientId": patient},
    }
    response = call(medreview, "opioid-patient-view", body)
    RESPONSE.validate(response.json())
    trend, taper = response.json()["cards"]
    assert trend["summary"].startswith("Opioid dose 120 mg OME a day on ") and trend["indicator"] == "warning"
    assert taper["summary"].startswith("Opioid dose reduction proposed, awaiting the GP: 0 of ")
    other = call(medreview, "opioid-patient-view", body, token=medreview.other_practice_token())
    assert other.json() == {"cards": []}


@pytest.mark.parametrize(
    ("service", "body", "status"),
    [
        (
            "opioid-order-sign",
            {"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "p"}},
            400,
        ),
        (
            "opioid-order-sign",
            {"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "p"}},
            400,
        ),
        ("opioid-patient-view", {"hook": "patient-view", "context": {"patientId": "p"}}, 400),
        (
            "no-such-service",
            {"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "p"}},
            404,
        ),
    ],
)
def test_a_malformed_call_is_refused_with_an_operation_outcome(
    medreview: Medreview, service: str, body: dict[str, Any], status: int
) -> None:
    response = medreview.client.post(
        f"/medreview/cds-services/{service}",
        json=body,
        headers={"authorization": f"Bearer {medreview.token}"},
    )
    assert response.status_code == status and response.json()["resourceType"] == "OperationOutcome"


def test_a_cds_call_without_a_token_is_refused(medreview: Medreview) -> None:
    body = {"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "p"}}
    assert medreview.client.post("/medreview/cds-services/opioid-patient-view", json=body).status_code == 401


GOOD_CARD = {"summary": "Fine", "indicator": "info", "source": {"label": "Pain and opioid review service"}}


@pytest.mark.parametrize(
    "card",
    [
        {**GOOD_CARD, "summary": "x" * 140},
        {**GOOD_CARD, "indicator": "success"},
        {**GOOD_CARD, "source": {"url": "https://example.org"}},
        {**GOOD_CARD, "suggestions": [{"label": "Refer", "uuid": str(uuid.uuid4())}]},
        {**GOOD_CARD, "detail": ""},
        {**GOOD_CARD, "links": [{"label": "More", "url": "https://example.org"}]},
        {**GOOD_CARD, "uuid": "not-a-uuid"},
        {**GOOD_CARD, "sumary": "typo"},
    ],
)
def test_the_response_schema_refuses_what_the_spec_forbids(card: dict[str, Any]) -> None:
    RESPONSE.validate({"cards": [GOOD_CARD]})
    assert not RESPONSE.is_valid({"cards": [card]})


@pytest.mark.parametrize(
    "dosage",
    [
        {"text": "1 bd", "additionalInstruction": [{"coding": 5}]},
        {"text": "1 bd", "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": ["d"]}}},
        {"text": "1 bd", "timing": {"code": {"coding": [{"system": [], "code": "BID"}]}}},
    ],
)
def test_a_draft_order_or_prefetch_not_valid_r4_is_a_400_not_a_500(medreview: Medreview, dosage: Any) -> None:
    """The orders and the prefetched list are validated as $medication-review's Bundle is (an attacker's
    review: each of these was a 500 from the dose reader)."""
    patient = new_patient()
    order = {**draft(patient, "d1", "Morphine sulfate 10mg tablets", "1 bd"), "dosageInstruction": [dosage]}
    response = medreview.client.post(
        "/medreview/cds-services/opioid-order-sign",
        json=order_sign(patient, order),
        headers={"authorization": f"Bearer {medreview.token}"},
    )
    assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"
    good = draft(patient, "d2", "Morphine sulfate 10mg tablets", "1 bd")
    prefetch = {
        "medications": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}
    }
    response = medreview.client.post(
        "/medreview/cds-services/opioid-order-sign",
        json=order_sign(patient, good, prefetch=prefetch),
        headers={"authorization": f"Bearer {medreview.token}"},
    )
    assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"


def test_a_prefetch_that_is_no_object_or_a_bad_contained_resource_is_a_400(medreview: Medreview) -> None:
    """A fifth review: "prefetch": [1] was a 500; a draft whose contained Medication has a wrongly typed
    field was refused only after the whole Bundle's schema tried every resource type (2.4 s each)."""
    patient = new_patient()
    good = draft(patient, "d1", "Morphine sulfate 10mg tablets", "1 bd")
    body = {**order_sign(patient, good), "prefetch": [1]}
    headers = {"authorization": f"Bearer {medreview.token}"}
    response = medreview.client.post("/medreview/cds-services/opioid-order-sign", json=body, headers=headers)
    assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"
    contained = {"resourceType": "Medication", "id": "m", "code": {"coding": [{"code": 5}]}}
    bad = {**good, "contained": [contained]}
    response = medreview.client.post(
        "/medreview/cds-services/opioid-order-sign", json=order_sign(patient, bad), headers=headers
    )
    assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"
