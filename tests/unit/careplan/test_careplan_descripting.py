"""Taper events from medreview as the de-scripting activity's progress (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from services.careplan.catalogue import interventions
from services.careplan.descripting import apply_taper_progress, taper_progress


def _taper(status: str, *steps: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": "taper-1",
        "status": status,
        "intent": "proposal",
        "subject": {"reference": "Patient/p1"},
        "activity": [
            {"detail": {"status": s, "scheduledPeriod": {"start": day}, **extra.get(f"step{n}", {})}}
            for n, (s, day) in enumerate(steps, start=1)
        ],
        **{k: v for k, v in extra.items() if not k.startswith("step")},
    }


@pytest.mark.parametrize(
    ("kind", "taper", "status", "reason", "note"),
    [
        (
            "proposed",
            _taper("draft", ("not-started", "2024-03-04"), ("not-started", "2024-03-18")),
            "scheduled",
            None,
            "2 steps, first step on 2024-03-04",
        ),
        (
            "approved",
            _taper("active", ("completed", "2024-03-04"), ("in-progress", "2024-03-18")),
            "in-progress",
            None,
            "approved step 2 (2024-03-18)",
        ),
        (
            "declined",
            _taper("draft", ("cancelled", "2024-03-04"), step1={"statusReason": {"text": "Wait for review"}}),
            "on-hold",
            "Wait for review",
            "declined",
        ),
        (
            "declined",
            {"resourceType": "Task", "status": "rejected", "statusReason": {"text": "Too fast"}},
            "on-hold",
            "Too fast",
            "Too fast",
        ),
        (
            "paused",
            _taper("on-hold", ("on-hold", "2024-03-04"), note=[{"text": "Withdrawal score 14"}]),
            "on-hold",
            "Withdrawal score 14",
            "paused",
        ),
    ],
)
def test_each_taper_event_sets_the_descripting_status_reason_and_note(
    kind: str, taper: dict[str, Any], status: str, reason: str | None, note: str
) -> None:
    progress = taper_progress(kind, taper)
    assert progress.status == status
    assert progress.reason == reason
    assert note in progress.note


def test_progress_is_added_to_the_descripting_activity_which_is_created_when_missing() -> None:
    concept = interventions()["de-scripting"].concept()
    plan = {"resourceType": "CarePlan", "status": "active", "activity": []}
    proposed = apply_taper_progress(
        plan,
        taper_progress("proposed", _taper("draft", ("not-started", "2024-03-04"))),
        taper_reference="CarePlan/taper-1",
        concept=concept,
        now="2024-03-01T10:00:00Z",
    )
    paused = apply_taper_progress(
        proposed,
        taper_progress("paused", _taper("on-hold", note=[{"text": "Patient asked to pause"}])),
        taper_reference="CarePlan/taper-1",
        concept=concept,
        now="2024-03-10T10:00:00Z",
    )
    [activity] = paused["activity"]
    assert activity["id"] == "de-scripting"
    assert activity["detail"]["status"] == "on-hold"
    assert activity["detail"]["statusReason"] == {"text": "Patient asked to pause"}
    assert [p["time"] for p in activity["progress"]] == ["2024-03-01T10:00:00Z", "2024-03-10T10:00:00Z"]
    assert activity["outcomeReference"] == [
        {"reference": "CarePlan/taper-1", "display": "Dose reduction (taper) plan"}
    ]


def test_an_unknown_taper_event_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown"):
        taper_progress("cancelled", {})
