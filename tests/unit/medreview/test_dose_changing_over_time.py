"""A dose written into the schedule to change over time is refused, naming the words; a loading dose is not.

A pharmacist's review: "1 bd for 7 days then 1 od" was read as its largest phase (oxycodone MR 10 mg: 20 mg,
30 mg OME) while "reduce to 1 qds after 3 days" was refused. Which phase applies today depends on when the
prescription started, which it does not say: both are refused. "Two now, then one every 4 hours" is a
loading dose, noted, and the maintenance counts (codeine 30 mg: 6 x 30 = 180 mg x 0.1 = 18).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shared.medicines.ome import oral_morphine_equivalent


def _request(product: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": {"text": product},
        "dosageInstruction": [{"text": text}],
    }


@pytest.mark.parametrize(
    ("product", "text", "words", "why"),
    [
        (
            "Oxycodone 10mg modified-release tablets",
            "1 bd for 7 days then 1 od",
            ("for 7 days", "then"),
            "20 mg a day (30 OME) for a week, then 10 mg (15): the largest phase would read 30 after day 7",
        ),
        (
            "Co-codamol 30mg/500mg tablets",
            "2 qds for 3 days then 1 qds",
            ("for 3 days", "then"),
            "8 tablets (24 OME) for 3 days, then 4 (12): today's is not known",
        ),
        (
            "Codeine 30mg tablets",
            "1 od for 5/7 then 1 bd for 5/7",
            ("for 5/7", "then", "for 5/7"),
            "a step-up: 3 OME for 5 days, then 6",
        ),
    ],
)
def test_a_dose_that_changes_over_time_is_refused_naming_the_words(
    product: str, text: str, words: tuple[str, ...], why: str
) -> None:
    result = oral_morphine_equivalent([_request(product, text)])
    [med] = result.medications
    assert not med.computable and result.incomplete, why
    assert med.reason_code == "dosage:dose-changes-over-time"
    assert med.unread == words
    assert all(w in (med.reason or "") for w in words)


def test_a_reduction_written_in_words_is_refused_too() -> None:
    result = oral_morphine_equivalent(
        [_request("Co-codamol 30mg/500mg tablets", "reduce to 1 qds after 3 days")]
    )
    [med] = result.medications
    assert not med.computable and result.incomplete


def test_a_loading_dose_is_noted_and_the_maintenance_counts() -> None:
    # loading "two now" not counted; 1 every 4 hours = 6 a day x 30 mg = 180 mg codeine x 0.1 = 18
    result = oral_morphine_equivalent([_request("Codeine 30mg tablets", "two now, then one every 4 hours")])
    [med] = result.medications
    assert med.computable and not result.incomplete
    assert med.ome_mg_per_day == Decimal("18")
    assert med.reading is not None and med.reading.loading
