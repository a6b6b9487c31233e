"""Taper events from medreview as the de-scripting activity's progress (pure): the Bundle medreview sends
(the CarePlan and its steps' MedicationRequests), and the CarePlan alone or the Task sent before it."""

from __future__ import annotations

from typing import Any

import pytest

from services.careplan.domain.catalogue import interventions
from services.careplan.domain.descripting import apply_taper_progress, taper_progress, taper_steps
from shared.contracts import taper_parts
from tests.support.invariants import assert_invariants

BASE = "https://pain-review.example.org/fhir"


def _request(number: int, status: str, day: str, reason: dict[str, Any] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": f"step-{number}",
        "extension": [
            {
                "url": f"{BASE}/StructureDefinition/taper-step",
                "extension": [{"url": "number", "valueInteger": number}],
            }
        ],
        "identifier": [{"system": f"{BASE}/Id/taper-step", "value": f"taper-1-step-{number}"}],
        "status": status,
        "intent": "proposal",
        "medicationCodeableConcept": {"text": "Morphine sulfate 10mg modified-release tablets"},
        "subject": {"reference": "Patient/p1"},
        "dispenseRequest": {"validityPeriod": {"start": day}},
    }
    if reason:
        request["statusReason"] = reason
    return request


def _hold(number: int, status: str, day: str) -> dict[str, Any]:
    return {
        "extension": [
            {
                "url": f"{BASE}/StructureDefinition/taper-step",
                "extension": [{"url": "number", "valueInteger": number}],
            }
        ],
        "detail": {"status": status, "scheduledPeriod": {"start": day}},
    }


def _bundle(status: str, *steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The taper Bundle medreview sends: a MedicationRequest step is referred to, a hold is a detail."""
    activities = [
        {"reference": {"reference": f"MedicationRequest/{s['id']}"}} if "resourceType" in s else s
        for s in steps
    ]
    plan = {
        "resourceType": "CarePlan",
        "id": "taper-1",
        "status": status,
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
        "activity": activities,
        **extra,
    }
    entries = [plan, *(s for s in steps if "resourceType" in s)]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in entries],
    }


def _declined(text: str) -> dict[str, Any]:
    return {
        "coding": [{"system": f"{BASE}/CodeSystem/taper-step-status-reason", "code": "declined"}],
        "text": text,
    }


def _withdrawn(text: str) -> dict[str, Any]:
    return {
        "coding": [{"system": f"{BASE}/CodeSystem/taper-step-status-reason", "code": "withdrawn"}],
        "text": text,
    }


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
        (
            "proposed",
            _bundle(
                "draft",
                _request(1, "draft", "2024-03-04"),
                _hold(2, "not-started", "2024-03-18"),
                _request(3, "draft", "2024-04-01"),
            ),
            "scheduled",
            None,
            "3 steps, first step on 2024-03-04",
        ),
        (
            "approved",
            _bundle(
                "active",
                _request(1, "completed", "2024-03-04"),
                _hold(2, "completed", "2024-03-18"),
                _request(3, "completed", "2024-04-01"),
                _request(4, "draft", "2024-04-15"),
            ),
            "in-progress",
            None,
            "approved step 3 (2024-04-01)",
        ),
        (
            "declined",
            _bundle(
                "revoked",
                _request(1, "completed", "2024-03-04"),
                _request(2, "cancelled", "2024-03-18", _withdrawn("Re-planned after a pause")),
                _request(3, "cancelled", "2024-04-01", _declined("Wait for the pain clinic")),
                _request(4, "cancelled", "2024-04-15", _withdrawn("Not proposed: step 3 was declined")),
            ),
            "on-hold",
            "Wait for the pain clinic",
            "declined the dose reduction step: Wait for the pain clinic",
        ),
        (
            "paused",
            _bundle(
                "on-hold", _request(1, "cancelled", "2024-03-04"), note=[{"text": "Withdrawal score 14"}]
            ),
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


def test_the_bundles_steps_are_read_from_their_medication_requests_and_keep_cpl3() -> None:
    bundle = _bundle(
        "active",
        _request(1, "completed", "2024-03-04"),
        _hold(2, "not-started", "2024-03-18"),
        _request(3, "cancelled", "2024-04-01", _declined("Too fast")),
    )
    assert_invariants(bundle)
    plan, requests = taper_parts(bundle)
    assert plan["id"] == "taper-1" and set(requests) == {
        "MedicationRequest/step-1",
        "MedicationRequest/step-3",
    }
    steps = taper_steps(plan, requests)
    assert [(s.number, s.date, s.status, s.declined) for s in steps] == [
        (1, "2024-03-04", "completed", False),
        (2, "2024-03-18", "not-started", False),
        (3, "2024-04-01", "cancelled", True),
    ]
    assert steps[2].reason == "Too fast"


def test_a_careplan_sent_without_its_medication_requests_still_gives_a_note() -> None:
    bare = _bundle("draft", _request(1, "draft", "2024-03-04"))["entry"][0]["resource"]
    progress = taper_progress("approved", bare)
    assert (progress.status, progress.note) == (
        "in-progress",
        "The GP approved a step of the dose reduction.",
    )


def test_a_bundle_without_a_careplan_is_an_error() -> None:
    with pytest.raises(ValueError, match="no CarePlan"):
        taper_progress("proposed", {"resourceType": "Bundle", "type": "collection", "entry": []})
