"""The service evaluation records a review's total OME as a figure only when it was complete."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from services.careplan.consumers import CareplanHandlers
from services.careplan.tables import evaluation_fact, metadata
from shared.contracts import MEDREVIEW_COMPLETED_V1, new_event
from shared.fhir import UnitOfWork


def _review(observation_id: str, quantity: dict[str, Any], effective: str) -> dict[str, Any]:
    observation = {
        "resourceType": "Observation",
        "id": observation_id,
        "status": "final",
        "code": {"text": "Total daily OME"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": effective,
        "valueQuantity": quantity,
    }
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": observation}]}


# What medreview's review Bundle carries when the engine could not compute an opioid's dose: the
# DetectedIssue detail ends "<reason> (<reason code>). The total OME is a lower bound." (medreview risk.py).
NOT_COMPUTABLE_ISSUE = {
    "resourceType": "DetectedIssue",
    "status": "final",
    "code": {"text": "Oral morphine equivalent of Methadone 1mg/ml oral solution could not be computed"},
    "detail": "Methadone has no fixed conversion factor (no-fixed-factor). The total OME is a lower bound.",
}


@pytest.mark.parametrize(
    ("quantity", "issues", "stored", "note"),
    [
        ({"value": 60, "unit": "mg/d", "code": "mg/d"}, [], Decimal(60), None),
        # a lower bound: an opioid's dose was not computable, so 60 is not the patient's total
        ({"value": 60, "comparator": ">=", "unit": "mg/d", "code": "mg/d"}, [], None, "lower bound (>=)"),
        # ... and the engine's reason code is kept when the review names it
        (
            {"value": 60, "comparator": ">=", "unit": "mg/d", "code": "mg/d"},
            [NOT_COMPUTABLE_ISSUE],
            None,
            "lower bound (>=): no-fixed-factor",
        ),
        # a total with no value is no figure either
        ({"unit": "mg/d", "code": "mg/d"}, [], None, "no figure: the review's total has no value"),
    ],
)
def test_a_total_that_is_not_exact_is_recorded_without_a_figure_and_with_why(
    quantity: dict[str, Any], issues: list[dict[str, Any]], stored: Any, note: str | None
) -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine, tables=[evaluation_fact])
    data = _review("o1", quantity, "2024-01-01T09:00:00Z")
    data["entry"] += [{"resource": issue} for issue in issues]
    event = new_event(
        MEDREVIEW_COMPLETED_V1, source="medreview", subject="Patient/p1", practice="A81001", data=data
    )
    with engine.begin() as conn:
        # This handler records an evaluation fact only: it writes no resource, so it needs no kernel.
        handlers = CareplanHandlers(None, specialists={})  # type: ignore[arg-type]
        # what the unit of work asks of the kernel here: its name and its clock
        service = SimpleNamespace(service="careplan", clock=lambda: datetime.now(UTC))
        handlers.medication_reviewed(event, UnitOfWork.for_event(service, conn, event))  # type: ignore[arg-type]
        (value, kept) = conn.execute(select(evaluation_fact.c.value, evaluation_fact.c.note)).one()
    assert value == stored
    assert kept == note
    engine.dispose()
