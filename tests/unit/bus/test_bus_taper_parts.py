"""The taper events' data and their steps' statuses read the same way for producer and consumer."""

from __future__ import annotations

import pytest

from shared.contracts import step_status, taper_parts

PLAN = {"resourceType": "CarePlan", "id": "taper-1", "status": "draft"}
STEP = {"resourceType": "MedicationRequest", "id": "step-1", "status": "active", "intent": "proposal"}


def test_a_bundle_gives_its_careplan_and_its_medication_requests_by_reference() -> None:
    unnamed = {**STEP, "id": None}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": PLAN}, {"resource": STEP}, {"resource": unnamed}, {"fullUrl": "no resource"}],
    }
    assert taper_parts(bundle) == (PLAN, {"MedicationRequest/step-1": STEP})


@pytest.mark.parametrize(
    "alone",
    [PLAN, {"resourceType": "Task", "id": "approval-1", "status": "rejected"}],
    ids=["careplan", "declined-task"],
)
def test_the_form_before_the_bundle_is_the_resource_alone(alone: dict[str, object]) -> None:
    assert taper_parts(alone) == (alone, {})


def test_a_bundle_without_a_careplan_is_an_error() -> None:
    with pytest.raises(ValueError, match="no CarePlan"):
        taper_parts({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": STEP}]})


@pytest.mark.parametrize(
    ("request_status", "activity_status"),
    [
        ("draft", "not-started"),
        ("active", "not-started"),
        ("on-hold", "on-hold"),
        ("completed", "completed"),
        ("cancelled", "cancelled"),
        ("stopped", "cancelled"),
        ("entered-in-error", "entered-in-error"),
        ("unknown", "unknown"),
        (None, "unknown"),
    ],
)
def test_a_steps_medication_request_status_is_read_as_its_activity_status(
    request_status: str | None, activity_status: str
) -> None:
    assert step_status({**STEP, "status": request_status}) == activity_status
