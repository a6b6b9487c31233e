"""The service evaluation records a review's total OME as a figure only when it was complete."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from services.careplan.handlers import CareplanHandlers
from services.careplan.tables import evaluation_fact, metadata
from shared.contracts import MEDREVIEW_COMPLETED_V1, new_event


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


@pytest.mark.parametrize(
    ("quantity", "stored"),
    [
        ({"value": 60, "unit": "mg/d", "code": "mg/d"}, Decimal(60)),
        # a lower bound: an opioid's dose was not computable, so 60 is not the patient's total
        ({"value": 60, "comparator": ">=", "unit": "mg/d", "code": "mg/d"}, None),
    ],
)
def test_a_lower_bound_total_is_recorded_without_a_figure(quantity: dict[str, Any], stored: Any) -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine, tables=[evaluation_fact])
    event = new_event(
        MEDREVIEW_COMPLETED_V1,
        source="medreview",
        subject="Patient/p1",
        practice="A81001",
        data=_review("o1", quantity, "2024-01-01T09:00:00Z"),
    )
    with engine.begin() as conn:
        # This handler records an evaluation fact only: it writes no resource, so it needs no kernel.
        handlers = CareplanHandlers(None, specialists={})  # type: ignore[arg-type]
        handlers.medication_reviewed(conn, event)
        (value,) = conn.execute(select(evaluation_fact.c.value)).one()
    assert value == stored
    engine.dispose()
