"""Builders of the resources careplan derives from events, and the GP summaries (pure parts)."""

from __future__ import annotations

import pytest

from services.careplan.domain.catalogue import SESSION_NOTE_EXTENSION, interventions
from services.careplan.domain.summaries import plan_summary, session_summary
from services.careplan.fhir_mapping.plans import care_team, draft_plan, plan_end, stable_id
from shared.fhir import validate_resource


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2024-01-10", None, "2026-01-10"),
        ("2024-01-10", "2025-01-10", "2025-01-10"),
        ("2024-01-10", "2027-06-01", "2026-01-10"),  # never more than 2 years
        ("2024-02-29", None, "2026-02-28"),
        ("2024-01-10T09:00:00Z", None, "2026-01-10"),
    ],
)
def test_a_plan_lasts_up_to_two_years(start: str, end: str | None, expected: str) -> None:
    assert plan_end(start, end) == expected


def test_ids_depend_only_on_what_they_are_about() -> None:
    assert stable_id("A81001", "pain-plan", "ep1") == stable_id("A81001", "pain-plan", "ep1")
    assert stable_id("A81001", "pain-plan", "ep1") != stable_id("B82002", "pain-plan", "ep1")


def test_the_care_team_and_draft_plan_are_valid_r4() -> None:
    episode = {
        "id": "ep1",
        "period": {"start": "2024-01-10"},
        "careManager": {"reference": "Practitioner/pw1"},
    }
    team = care_team(
        team_id="t1",
        practice="A81001",
        patient="Patient/p1",
        episode=episode,
        referral={"requester": {"reference": "PractitionerRole/gp-role"}},
        specialists={"addiction-psychiatrist": "Dr B Example"},
        today="2024-01-10",
    )
    validate_resource(team, "CareTeam")
    roles = [p["role"][0]["coding"][0]["code"] for p in team["participant"]]
    assert roles == ["project-worker", "general-practitioner", "addiction-psychiatrist"]
    assert "onBehalfOf" not in team["participant"][1]  # only for a Practitioner member (ctm-1)
    plan = draft_plan(
        plan_id="c1",
        team_id="t1",
        patient="Patient/p1",
        episode=episode,
        conditions=[{"id": "k1"}],
        created="2024-01-10T10:00:00Z",
    )
    validate_resource(plan, "CarePlan")
    assert plan["supportingInfo"] == [{"reference": "EpisodeOfCare/ep1"}]


def test_summaries_say_what_happened_without_naming_the_patient() -> None:
    plan = {
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2024-01-10", "end": "2026-01-10"},
        "activity": [
            {
                "detail": {
                    "code": interventions()["pacing"].concept(),
                    "status": "stopped",
                    "statusReason": {"text": "prefers walking"},
                }
            },
            {
                "detail": {"code": interventions()["de-scripting"].concept(), "status": "on-hold"},
                "progress": [{"text": "paused"}],
            },
        ],
    }
    text = plan_summary(plan, [{"description": {"text": "Walk daily"}}], note="Seen today")
    assert text.splitlines() == [
        "Pain management plan (active), 2024-01-10 to 2026-01-10.",
        "- Pacing: stopped (prefers walking)",
        "- De-scripting (supported opioid reduction): on hold; latest: paused",
        "Goal: Walk daily (set)",
        "Note: Seen today",
    ]
    session = {
        "status": "finished",
        "period": {"start": "2024-02-14T10:00:00Z"},
        "participant": [{"type": [{"text": "carer"}]}],
        "extension": [{"url": SESSION_NOTE_EXTENSION, "valueAnnotation": {"text": "Went well."}}],
    }
    assert session_summary(session).splitlines() == [
        "Session with the project worker (finished), 2024-02-14T10:00:00Z.",
        "Attended: carer.",
        "Notes: Went well.",
    ]
