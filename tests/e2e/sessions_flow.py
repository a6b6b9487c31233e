"""Sessions and the monthly MDT driven over HTTP against a running careplan (embedded or served alone):
a group session with more patients than places, an attended session, a did-not-attend and its re-offer
Task, the patient's sessions counted, and the month's MDT agenda with an outcome recorded in the plan."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

FHIR = "application/fhir+json"
BASE = "https://pain-review.example.org/fhir"


def _client(careplan: str, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR, "Accept": FHIR}
    return httpx.Client(base_url=f"{careplan}/fhir", headers=headers, timeout=30)


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _plan_for(client: httpx.Client, patient: str) -> None:
    """A draft pain management plan for a synthetic patient, as the practice may start one by REST."""
    category = {"coding": [{"system": f"{BASE}/CodeSystem/careplan-category", "code": "pain-management"}]}
    _created(
        client.post(
            "/CarePlan",
            json={
                "resourceType": "CarePlan",
                "status": "draft",
                "intent": "plan",
                "category": [category],
                "subject": {"reference": patient},
            },
        )
    )


def _book(client: httpx.Client, slot: str, patient: str, *, waitlist: bool = False) -> httpx.Response:
    parameters: list[dict[str, Any]] = [{"name": "patient", "valueReference": {"reference": patient}}]
    if waitlist:
        parameters.append({"name": "waitlist", "valueBoolean": True})
    return client.post(f"/Slot/{slot}/$book", json={"resourceType": "Parameters", "parameter": parameters})


def _attendance(client: httpx.Client, appointment: str, outcome: str) -> list[dict[str, Any]]:
    body = {"resourceType": "Parameters", "parameter": [{"name": "outcome", "valueCode": outcome}]}
    answer = _created(client.post(f"/Appointment/{appointment}/$record-attendance", json=body))
    return [e["resource"] for e in answer["entry"]]


def run_sessions(careplan: str, token: str, patient: str) -> None:
    """A group of two places (an evening, 18:30-20:00 UTC) for the demo's patient and two others."""
    with _client(careplan, token) as client:
        _sessions(client, patient)


def _sessions(client: httpx.Client, patient: str) -> None:
    others = [f"Patient/e2e-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for other in others:
        _plan_for(client, other)
    schedule = _created(
        client.post(
            "/Schedule",
            json={"resourceType": "Schedule", "actor": [{"display": "Relaxation group (project worker)"}]},
        )
    )
    slot = _created(
        client.post(
            "/Slot",
            json={
                "resourceType": "Slot",
                "schedule": {"reference": f"Schedule/{schedule['id']}"},
                "status": "free",
                "start": "2030-03-05T18:30:00Z",
                "end": "2030-03-05T20:00:00Z",
                "serviceType": [{"text": "Relaxation group"}],
                "extension": [{"url": f"{BASE}/StructureDefinition/session-capacity", "valuePositiveInt": 2}],
            },
        )
    )
    mine = _created(_book(client, slot["id"], patient))
    missed = _created(_book(client, slot["id"], others[0]))
    full = _book(client, slot["id"], others[1])
    assert full.status_code == 422 and "full (2 of 2 places booked)" in full.text, full.text
    assert _created(_book(client, slot["id"], others[1], waitlist=True))["status"] == "waitlist"

    appointment, encounter = _attendance(client, mine["id"], "attended")
    assert appointment["status"] == "fulfilled" and encounter["status"] == "finished"
    appointment, task = _attendance(client, missed["id"], "did-not-attend")
    assert appointment["status"] == "noshow" and task["code"]["coding"][0]["code"] == "re-offer-session"

    totals = _created(client.get("/Appointment/$session-totals", params={"patient": patient}))
    parts = {p["name"]: p for p in totals["parameter"][0]["part"]}
    assert parts["attended"]["valueInteger"] >= 1
    assert parts["totalLength"]["valueQuantity"]["value"] >= 90  # this 90-minute session at least


def run_mdt(careplan: str, token: str, patient: str, *, reason: str | None) -> dict[str, Any]:
    """Next month's MDT agenda; when ``reason`` is given the patient must be on it for it, and the MDT's
    outcome is recorded on the agenda and in their plan."""
    with _client(careplan, token) as client:
        return _mdt(client, patient, reason)


def _mdt(client: httpx.Client, patient: str, reason: str | None) -> dict[str, Any]:
    answer = _created(client.post("/Appointment/$mdt-agenda", json={"resourceType": "Parameters"}))
    meeting, agenda = (e["resource"] for e in answer["entry"])
    assert meeting["supportingInformation"] == [{"reference": f"List/{agenda['id']}"}]
    if reason is None:
        return agenda
    item = next(e for e in agenda.get("entry", []) if e["item"]["reference"] == patient)
    codes = [
        x["valueCodeableConcept"]["coding"][0]["code"]
        for x in item["extension"]
        if x["url"] == f"{BASE}/StructureDefinition/mdt-reason"
    ]
    assert reason in codes, codes
    outcome = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "valueReference": {"reference": patient}},
            {"name": "outcome", "valueCode": "slow-taper"},
            {"name": "note", "valueString": "Restart at a slower pace once withdrawal settles."},
        ],
    }
    listed, plan = (
        e["resource"]
        for e in _created(client.post(f"/List/{agenda['id']}/$record-mdt-outcome", json=outcome))["entry"]
    )
    assert {"reference": f"List/{listed['id']}"}.items() <= plan["supportingInfo"][-1].items()
    assert "Slow the taper" in plan["note"][-1]["text"]
    return agenda
