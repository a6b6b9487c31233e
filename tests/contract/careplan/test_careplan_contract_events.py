"""Careplan's consumers end to end in one process: enrolment, discharge, taper steps; and what it
publishes (the catalogue, the events' resources) is valid R4 that round-trips."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.careplan.domain.catalogue import INTERVENTION_SYSTEM
from shared.contracts import (
    PATIENT_DISCHARGED_V1,
    PATIENT_ENROLLED_V1,
    TAPER_APPROVED_V1,
    TAPER_DECLINED_V1,
    TAPER_PAUSED_V1,
    TAPER_PROPOSED_V1,
    from_json,
)
from shared.outbox import outbox
from tests.support import eventually
from tests.support.careplan import Careplan, assert_round_trips, enrolment
from tests.support.invariants import assert_invariants


def _plan_of(careplan: Careplan, patient: str) -> dict[str, Any] | None:
    plans = careplan.search("CarePlan", patient=f"Patient/{patient}")
    return plans[0] if plans else None


def test_an_enrolment_event_gives_a_care_team_and_a_draft_plan(
    careplan: Careplan,
) -> None:
    careplan.publish("referral", PATIENT_ENROLLED_V1, "EpisodeOfCare/ep-e1", enrolment("e1", "ep-e1"))
    plan = eventually(lambda: _plan_of(careplan, "e1"))  # how fast is bench/'s question, not a test's
    assert plan["status"] == "draft" and plan["intent"] == "plan"
    assert plan["category"][0]["coding"][0]["code"] == "pain-management"
    assert plan["period"] == {"start": "2024-01-10", "end": "2026-01-10"}  # at most 2 years
    assert plan["addresses"] == [{"reference": "Condition/cond-e1"}]
    [team] = careplan.search("CareTeam", patient="Patient/e1")
    assert plan["careTeam"] == [{"reference": f"CareTeam/{team['id']}"}]
    roles = {p["role"][0]["coding"][0]["code"]: p for p in team["participant"]}
    assert set(roles) == {"project-worker", "general-practitioner"}
    assert roles["general-practitioner"]["member"]["reference"] == "Practitioner/gp1"
    assert roles["general-practitioner"]["role"][0]["coding"][1]["code"] == "62247001"


def test_the_same_enrolment_delivered_twice_leaves_one_team_and_one_plan(careplan: Careplan) -> None:
    for _ in range(2):  # two events (two ids) about the same episode
        careplan.publish("referral", PATIENT_ENROLLED_V1, "EpisodeOfCare/ep-e2", enrolment("e2", "ep-e2"))
    eventually(lambda: _plan_of(careplan, "e2"))
    careplan.publish("referral", PATIENT_ENROLLED_V1, "EpisodeOfCare/ep-e3", enrolment("e3", "ep-e3"))
    eventually(lambda: _plan_of(careplan, "e3"))  # everything before it was applied too
    assert len(careplan.search("CarePlan", patient="Patient/e2")) == 1
    assert len(careplan.search("CareTeam", patient="Patient/e2")) == 1


def _descripting(careplan: Careplan, patient: str, notes: int) -> dict[str, Any] | None:
    plan = _plan_of(careplan, patient) or {}
    for activity in plan.get("activity", []):
        if activity.get("id") == "de-scripting" and len(activity.get("progress", [])) == notes:
            found: dict[str, Any] = activity
            return found
    return None


BASE = "https://pain-review.example.org/fhir"


def _step(number: int, status: str, day: str, **extra: Any) -> dict[str, Any]:
    """A taper step's proposed MedicationRequest as medreview sends it."""
    return {
        "resourceType": "MedicationRequest",
        "id": f"taper-t2-step-{number}",
        "extension": [
            {
                "url": f"{BASE}/StructureDefinition/taper-step",
                "extension": [{"url": "number", "valueInteger": number}],
            }
        ],
        "identifier": [{"system": f"{BASE}/Id/taper-step", "value": f"taper-t2-step-{number}"}],
        "status": status,
        "intent": "proposal",
        "medicationCodeableConcept": {"text": "Morphine sulfate 10mg modified-release tablets"},
        "subject": {"reference": "Patient/t2"},
        "basedOn": [{"reference": "CarePlan/taper-t2"}],
        "dispenseRequest": {"validityPeriod": {"start": day}},
        **extra,
    }


def _taper_bundle(status: str, *steps: dict[str, Any]) -> dict[str, Any]:
    plan = {
        "resourceType": "CarePlan",
        "id": "taper-t2",
        "status": status,
        "intent": "plan",
        "subject": {"reference": "Patient/t2"},
        "activity": [{"reference": {"reference": f"MedicationRequest/{s['id']}"}} for s in steps],
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in (plan, *steps)],
    }


def test_taper_bundles_show_as_the_descripting_activitys_progress(careplan: Careplan) -> None:
    careplan.publish("referral", PATIENT_ENROLLED_V1, "EpisodeOfCare/ep-t2", enrolment("t2", "ep-t2"))
    eventually(lambda: _plan_of(careplan, "t2"))
    proposed = _taper_bundle("draft", _step(1, "draft", "2024-03-04"), _step(2, "draft", "2024-03-18"))
    assert_invariants(proposed)
    careplan.publish("medreview", TAPER_PROPOSED_V1, "CarePlan/taper-t2", proposed)
    approved = _taper_bundle("active", _step(1, "completed", "2024-03-04"), _step(2, "draft", "2024-03-18"))
    careplan.publish("medreview", TAPER_APPROVED_V1, "CarePlan/taper-t2", approved)
    reason = {
        "coding": [{"system": f"{BASE}/CodeSystem/taper-step-status-reason", "code": "declined"}],
        "text": "Wait for the pain clinic",
    }
    declined = _taper_bundle(
        "revoked",
        _step(1, "completed", "2024-03-04"),
        _step(2, "cancelled", "2024-03-18", statusReason=reason),
    )
    careplan.publish("medreview", TAPER_DECLINED_V1, "CarePlan/taper-t2", declined)
    activity = eventually(lambda: _descripting(careplan, "t2", 3))
    assert [p["text"] for p in activity["progress"]] == [
        "Dose reduction proposed to the GP: 2 steps, first step on 2024-03-04.",
        "The GP approved step 1 (2024-03-04) of the dose reduction.",
        "The GP declined the dose reduction step: Wait for the pain clinic.",
    ]
    assert activity["detail"]["status"] == "on-hold"
    assert activity["detail"]["statusReason"]["text"] == "Wait for the pain clinic"
    assert activity["outcomeReference"] == [
        {"reference": "CarePlan/taper-t2", "display": "Dose reduction (taper) plan"}
    ]


def test_taper_events_show_as_the_descripting_activitys_progress(careplan: Careplan) -> None:
    """The taper CarePlan sent alone, as medreview did before the Bundle, still reads."""
    careplan.publish("referral", PATIENT_ENROLLED_V1, "EpisodeOfCare/ep-t1", enrolment("t1", "ep-t1"))
    eventually(lambda: _plan_of(careplan, "t1"))
    taper = {
        "resourceType": "CarePlan",
        "id": "taper-t1",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": "Patient/t1"},
        "activity": [
            {"detail": {"status": "not-started", "scheduledPeriod": {"start": "2024-03-04"}}},
            {"detail": {"status": "not-started", "scheduledPeriod": {"start": "2024-03-18"}}},
        ],
    }
    careplan.publish("medreview", TAPER_PROPOSED_V1, "CarePlan/taper-t1", taper)
    paused = {**taper, "status": "on-hold", "note": [{"text": "Patient asked to slow down"}]}
    careplan.publish("medreview", TAPER_PAUSED_V1, "CarePlan/taper-t1", paused)

    activity = eventually(lambda: _descripting(careplan, "t1", 2))
    assert activity["detail"]["status"] == "on-hold"
    assert activity["detail"]["statusReason"]["text"] == "Patient asked to slow down"
    assert activity["detail"]["code"]["coding"][0] == {
        "system": INTERVENTION_SYSTEM,
        "code": "de-scripting",
        "display": "De-scripting (supported opioid reduction)",
    }
    assert activity["outcomeReference"][0]["reference"] == "CarePlan/taper-t1"


def test_discharge_revokes_a_plan_never_agreed_and_ends_the_care_team(careplan: Careplan) -> None:
    careplan.publish("referral", PATIENT_ENROLLED_V1, "EpisodeOfCare/ep-d1", enrolment("d1", "ep-d1"))
    eventually(lambda: _plan_of(careplan, "d1"))
    finished = {
        "resourceType": "EpisodeOfCare",
        "id": "ep-d1",
        "status": "finished",
        "patient": {"reference": "Patient/d1"},
        "period": {"start": "2024-01-10", "end": "2024-06-30"},
    }
    careplan.publish("referral", PATIENT_DISCHARGED_V1, "EpisodeOfCare/ep-d1", finished)
    plan = eventually(lambda: p if (p := _plan_of(careplan, "d1")) and p["status"] != "draft" else None)
    assert plan["status"] == "revoked" and plan["period"]["end"] == "2024-06-30"
    [team] = careplan.search("CareTeam", patient="Patient/d1")
    assert team["status"] == "inactive"


def test_the_catalogue_is_served_to_every_practice_searchable_by_url_and_name_and_read_only(
    careplan: Careplan,
) -> None:
    [system] = careplan.search("CodeSystem", url=INTERVENTION_SYSTEM)
    assert system["name"] == "PainReviewIntervention"
    [value_set] = careplan.search("ValueSet", name="PainReviewInterventionCommunity")
    assert value_set["compose"]["include"][0]["system"] == INTERVENTION_SYSTEM
    assert careplan.get("/ValueSet/pain-review-intervention").status_code == 200
    assert len(careplan.search("PlanDefinition")) >= 3
    assert careplan.get("/Questionnaire/pain-review-assessment").status_code == 200
    other = Careplan(careplan.system, careplan.client, practice="B82002")
    assert other.search("CodeSystem", url=INTERVENTION_SYSTEM)
    assert careplan.put(f"/CodeSystem/{system['id']}", {**system, "title": "mine"}).status_code == 404
    assert (
        careplan.client.delete(
            f"/careplan/fhir/CodeSystem/{system['id']}", headers=careplan.headers()
        ).status_code
        == 404
    )


def test_every_resource_careplan_emits_validates_as_r4_and_round_trips(careplan: Careplan) -> None:
    with careplan.system.services["careplan"].engine.connect() as conn:
        events = [from_json(row.payload) for row in conn.execute(select(outbox.c.payload))]
    assert {e.type for e in events} >= {"careplan.updated.v1"}
    for event in events:
        assert_round_trips(event.data)
    plans = careplan.search("CarePlan", _count=100)
    # The pain management plans, de-scripting among their activities once a taper event came (above).
    assert any(a.get("id") == "de-scripting" for p in plans for a in p.get("activity", []))
    for resource_type in ("CarePlan", "CareTeam", "CodeSystem", "ValueSet", "PlanDefinition", "Measure"):
        for resource in careplan.search(resource_type, _count=100):
            assert_round_trips(resource)
    assert_round_trips(careplan.get("/Questionnaire/pain-review-assessment").json())
