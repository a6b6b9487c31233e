"""Careplan's consumers end to end in one process: enrolment, discharge, taper steps; and what it
publishes (the catalogue, the events' resources) is valid R4 that round-trips."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from services.careplan.catalogue import INTERVENTION_SYSTEM
from shared.contracts import (
    PATIENT_DISCHARGED_V1,
    PATIENT_ENROLLED_V1,
    TAPER_PAUSED_V1,
    TAPER_PROPOSED_V1,
    from_json,
)
from shared.fhir import validate_resource
from shared.outbox import outbox
from tests.contract.careplan.conftest import Careplan, enrolment, wait_for

LATENCY_GOAL_SECONDS = 2.0


def _plan_of(careplan: Careplan, patient: str) -> dict[str, Any] | None:
    plans = careplan.search("CarePlan", patient=f"Patient/{patient}")
    return plans[0] if plans else None


def test_an_enrolment_event_gives_a_care_team_and_a_draft_plan_within_the_latency_goal(
    careplan: Careplan,
) -> None:
    careplan.publish("referral", PATIENT_ENROLLED_V1, "EpisodeOfCare/ep-e1", enrolment("e1", "ep-e1"))
    plan, seconds = wait_for(lambda: _plan_of(careplan, "e1"))
    assert seconds < LATENCY_GOAL_SECONDS
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
    wait_for(lambda: _plan_of(careplan, "e2"))
    careplan.publish("referral", PATIENT_ENROLLED_V1, "EpisodeOfCare/ep-e3", enrolment("e3", "ep-e3"))
    wait_for(lambda: _plan_of(careplan, "e3"))  # everything before it was applied too
    assert len(careplan.search("CarePlan", patient="Patient/e2")) == 1
    assert len(careplan.search("CareTeam", patient="Patient/e2")) == 1


def test_taper_events_show_as_the_descripting_activitys_progress(careplan: Careplan) -> None:
    careplan.publish("referral", PATIENT_ENROLLED_V1, "EpisodeOfCare/ep-t1", enrolment("t1", "ep-t1"))
    wait_for(lambda: _plan_of(careplan, "t1"))
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

    def descripting() -> dict[str, Any] | None:
        plan = _plan_of(careplan, "t1") or {}
        for activity in plan.get("activity", []):
            if activity.get("id") == "de-scripting" and len(activity.get("progress", [])) == 2:
                found: dict[str, Any] = activity
                return found
        return None

    activity, _ = wait_for(descripting)
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
    wait_for(lambda: _plan_of(careplan, "d1"))
    finished = {
        "resourceType": "EpisodeOfCare",
        "id": "ep-d1",
        "status": "finished",
        "patient": {"reference": "Patient/d1"},
        "period": {"start": "2024-01-10", "end": "2024-06-30"},
    }
    careplan.publish("referral", PATIENT_DISCHARGED_V1, "EpisodeOfCare/ep-d1", finished)
    plan, _ = wait_for(lambda: p if (p := _plan_of(careplan, "d1")) and p["status"] != "draft" else None)
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


def _paths(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, dict):
        return {p for k, v in node.items() for p in {f"{prefix}.{k}", *_paths(v, f"{prefix}.{k}")}}
    if isinstance(node, list):
        return {p for v in node for p in _paths(v, prefix)}
    return set()


def assert_round_trips(resource: dict[str, Any]) -> None:
    """Valid R4; serialising the parsed model keeps every element, and a second pass changes nothing."""
    once = json.loads(validate_resource(resource).model_dump_json(exclude_none=True))
    assert _paths(resource) <= _paths(once), sorted(_paths(resource) - _paths(once))
    twice = json.loads(validate_resource(once).model_dump_json(exclude_none=True))
    assert twice == once


def test_every_resource_careplan_emits_validates_as_r4_and_round_trips(careplan: Careplan) -> None:
    with careplan.system.services["careplan"].engine.connect() as conn:
        events = [from_json(row.payload) for row in conn.execute(select(outbox.c.payload))]
    assert {e.type for e in events} >= {"careplan.updated.v1"}
    for event in events:
        assert_round_trips(event.data)
    for resource_type in ("CarePlan", "CareTeam", "CodeSystem", "ValueSet", "PlanDefinition", "Measure"):
        for resource in careplan.search(resource_type, _count=100):
            assert_round_trips(resource)
    assert_round_trips(careplan.get("/Questionnaire/pain-review-assessment").json())
