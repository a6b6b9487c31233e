"""A decimal parameter written 'NaN', 'sNaN', 'Infinity' or '-Infinity' (a valueString; a Quantity's value
must be a JSON number) parses as a Python Decimal and then fails every comparison the taper policy makes:
``$propose-taper`` and ``$pause`` answered 500. Replayed as the attack on the embedded system: each is a 400
naming the parameter, and no plan is written."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from shared.contracts import MEDICATION_LIST_SYNCED_V1, new_event
from shared.outbox import record_event
from tests.support import eventually
from tests.support.medreview import list_bundle, medicine
from tests.support.tokens import Tokens

PRACTICE = "A81001"
FHIR = {"content-type": "application/fhir+json"}
Secured = tuple[EmbeddedSystem, TestClient, Tokens]
NOT_NUMBERS = ["NaN", "sNaN", "Infinity", "-Infinity"]
DECIMALS = ["stepPercent", "intervalDays", "targetDailyOME", "slowStepFactor", "maxMonthlyReductionPercent"]


def _parameters(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parts)}


def _patient_on_morphine(system: EmbeddedSystem, client: TestClient, headers: dict[str, str]) -> str:
    """A patient whose GP list (30 mg MR morphine twice a day, no safety gate) reached medreview."""
    patient = str(uuid.uuid4())
    name = "Morphine sulfate 30mg modified-release tablets"
    mor = medicine(patient, f"{patient}-mor", name, "one twice a day")
    event = new_event(
        MEDICATION_LIST_SYNCED_V1,
        source="/painreview/gpconnect",
        subject=f"Patient/{patient}",
        practice=PRACTICE,
        data=list_bundle(patient, mor),
    )
    with system.services["gpconnect"].engine.begin() as conn:
        record_event(conn, event)
    eventually(
        lambda: (
            client.get("/medreview/fhir/List", params={"patient": f"Patient/{patient}"}, headers=headers)
            .json()
            .get("total")
            == 1
        ),
        what="the medication list reaching medreview",
    )
    return patient


def _plans(client: TestClient, patient: str, headers: dict[str, str]) -> int:
    found = client.get("/medreview/fhir/CarePlan", params={"patient": f"Patient/{patient}"}, headers=headers)
    return int(found.json()["total"])


def test_not_a_number_is_400_and_writes_no_plan(secured: Secured) -> None:
    system, client, tokens = secured
    headers = {**FHIR, "authorization": f"Bearer {tokens.valid(PRACTICE)}"}
    patient = _patient_on_morphine(system, client, headers)
    start = {"name": "startDate", "valueDate": "2026-04-06"}
    for name in DECIMALS:
        for text in NOT_NUMBERS:
            response = client.post(
                f"/medreview/fhir/Patient/{patient}/$propose-taper",
                json=_parameters(start, {"name": name, "valueString": text}),
                headers=headers,
            )
            assert response.status_code == 400, (name, text, response.text)
            assert name in response.json()["issue"][0]["diagnostics"]
    assert _plans(client, patient, headers) == 0

    proposed = client.post(
        f"/medreview/fhir/Patient/{patient}/$propose-taper", json=_parameters(start), headers=headers
    )
    assert proposed.status_code == 200, proposed.text
    careplan = proposed.json()["id"]
    for name in ("stepPercent", "intervalDays"):
        for text in NOT_NUMBERS:
            response = client.post(
                f"/medreview/fhir/CarePlan/{careplan}/$pause",
                json=_parameters({"name": "reason", "valueString": "x"}, {"name": name, "valueString": text}),
                headers=headers,
            )
            assert response.status_code == 400, (name, text, response.text)
    plan = client.get(f"/medreview/fhir/CarePlan/{careplan}", headers=headers).json()
    assert plan["meta"]["versionId"] == proposed.json()["meta"]["versionId"]  # nothing paused
