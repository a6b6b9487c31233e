"""The plan's rules: activity status changes, activation on agreement, what counts as received."""

from __future__ import annotations

from typing import Any

import pytest

from services.careplan.domain.activities import (
    NewActivity,
    PlanRuleError,
    add_activities,
    agreements_of,
    check_activity_change,
    check_plan_change,
    check_plan_update,
    received_interventions,
    with_agreements,
)
from services.careplan.domain.catalogue import INTERVENTION_SYSTEM, interventions


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (None, "not-started", False),
        ("not-started", "scheduled", False),
        ("scheduled", "in-progress", False),
        ("in-progress", "completed", False),
        ("in-progress", "on-hold", False),
        ("on-hold", "in-progress", False),
        ("in-progress", "stopped", True),
        ("not-started", "cancelled", True),
        ("completed", "entered-in-error", False),
    ],
)
def test_allowed_activity_changes_pass(old: str | None, new: str, reason: bool) -> None:
    check_activity_change(old, new, has_reason=reason)


@pytest.mark.parametrize(
    ("old", "new", "reason", "why"),
    [
        ("in-progress", "stopped", False, "needs a statusReason"),
        (None, "cancelled", False, "needs a statusReason"),
        ("completed", "in-progress", False, "add a new activity"),
        ("stopped", "in-progress", False, "add a new activity"),
        ("in-progress", "not-started", False, "cannot go back"),
        ("on-hold", "scheduled", False, "cannot go back"),
    ],
)
def test_refused_activity_changes_say_why(old: str | None, new: str, reason: bool, why: str) -> None:
    with pytest.raises(PlanRuleError, match=why):
        check_activity_change(old, new, has_reason=reason)


@pytest.mark.parametrize(
    ("old", "new", "agreed", "allowed"),
    [
        ("draft", "active", {"patient", "project-worker"}, True),
        ("draft", "active", {"patient"}, False),
        ("draft", "active", set(), False),
        (None, "active", {"patient", "project-worker"}, True),
        (None, "active", {"project-worker"}, False),
        ("active", "on-hold", set(), True),
        ("active", "completed", set(), True),
        ("active", "draft", {"patient", "project-worker"}, False),
        ("completed", "active", {"patient", "project-worker"}, False),
        ("revoked", "draft", set(), False),
        ("revoked", "entered-in-error", set(), True),
    ],
)
def test_plan_status_changes_follow_agreement_and_finality(
    old: str | None, new: str, agreed: set[str], allowed: bool
) -> None:
    if allowed:
        check_plan_change(old, new, agreed)
    else:
        with pytest.raises(PlanRuleError):
            check_plan_change(old, new, agreed)


def _plan(status: str, **activities: tuple[str, bool]) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": status,
        "activity": [
            {"id": key, "detail": {"status": s, **({"statusReason": {"text": "why"}} if r else {})}}
            for key, (s, r) in activities.items()
        ],
    }


def test_agreements_recorded_on_the_plan_let_it_become_active() -> None:
    draft = _plan("draft")
    agreed = with_agreements(draft, {"patient": "2024-02-01", "project-worker": "2024-02-01"})
    assert agreements_of(agreed) == {"patient", "project-worker"}
    check_plan_update(draft, {**agreed, "status": "active"})
    with pytest.raises(PlanRuleError, match="project-worker"):
        check_plan_update(draft, {**with_agreements(draft, {"patient": "2024-02-01"}), "status": "active"})


def test_an_update_is_checked_activity_by_activity() -> None:
    before = _plan("active", book=("in-progress", False))
    check_plan_update(before, _plan("active", book=("completed", False), pacing=("not-started", False)))
    with pytest.raises(PlanRuleError, match="activity book"):
        check_plan_update(before, _plan("active", book=("stopped", False)))


def test_received_interventions_are_those_started_or_completed() -> None:
    catalogue = interventions()
    plan = {
        "activity": [
            {"detail": {"code": catalogue["pain-management-book"].concept(), "status": "completed"}},
            {"detail": {"code": catalogue["pacing"].concept(), "status": "in-progress"}},
            {"detail": {"code": catalogue["sleep-hygiene"].concept(), "status": "not-started"}},
            {"detail": {"code": catalogue["goal-setting"].concept(), "status": "cancelled"}},
        ]
    }
    assert received_interventions(plan) == {
        (INTERVENTION_SYSTEM, "pain-management-book"),
        (INTERVENTION_SYSTEM, "pacing"),
    }


def test_template_activities_are_added_once_and_not_started() -> None:
    book = interventions()["pain-management-book"]
    addition = NewActivity(book.code, book.concept())
    once = add_activities({"resourceType": "CarePlan"}, [addition])
    twice = add_activities(once, [addition])
    assert twice["activity"] == once["activity"]
    assert once["activity"][0]["detail"]["status"] == "not-started"


def test_an_activity_with_both_a_reference_and_a_detail_is_refused_cpl3() -> None:
    both = {
        "id": "physio",
        "reference": {"reference": "ServiceRequest/sr1"},
        "detail": {"status": "not-started"},
    }
    plan = {"resourceType": "CarePlan", "status": "draft", "activity": [both]}
    with pytest.raises(
        PlanRuleError, match=r"activity physio: give a reference or a detail, not both \(cpl-3\)"
    ):
        check_plan_update(None, plan)
    check_plan_update(
        None, {**plan, "activity": [{"reference": both["reference"]}, {"detail": both["detail"]}]}
    )
