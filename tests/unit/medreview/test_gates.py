"""The safety gates that hold a taper until an MDT or specialist review (``services.medreview.domain.gates``).

Figures by hand from the Opioids Aware factors (docs/domain/reference-facts.md): oral morphine 1, so
morphine 30 mg x 5 tablets twice a day is 300 mg OME a day (the 300 mg specialist threshold: at it, gated),
four twice a day 240 mg (not gated); sublingual buprenorphine 40, so 8 mg a day is 320 mg OME."""

from __future__ import annotations

from typing import Any

import pytest

from services.medreview.domain.gates import taper_gates
from services.medreview.domain.ome import oral_morphine_equivalent


def rx(name: str, dosage: str, id_: str = "x") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": id_,
        "status": "active",
        "intent": "plan",
        "medicationCodeableConcept": {"text": name},
        "dosageInstruction": [{"text": dosage}],
    }


X = "MedicationRequest/x"


@pytest.mark.parametrize(
    ("resources", "gates"),
    [
        ([rx("Morphine 60mg modified-release tablets", "one twice a day")], []),
        ([rx("Morphine 30mg modified-release tablets", "four twice a day")], []),
        ([rx("Morphine 30mg modified-release tablets", "five twice a day")], [("high-dose", ("total",))]),
        (
            [rx("Methadone 1mg/ml oral solution", "30ml daily")],
            [("methadone", (X,)), ("opioid-substitution", (X,))],
        ),
        (
            [rx("Fentanyl 200microgram buccal tablets", "one when required up to four times a day")],
            [("transmucosal-fentanyl", (X,))],
        ),
        (
            # Substitution therapy is never converted by a factor (issue 14): no OME total to gate on;
            # the substitution gate alone holds the plan.
            [rx("Buprenorphine 8mg sublingual tablets", "one daily")],
            [("opioid-substitution", (X,))],
        ),
        ([rx("Buprenorphine 200microgram sublingual tablets", "one three times a day")], []),  # analgesic
        ([rx("Buprenorphine 10micrograms/hour transdermal patches", "one patch every 7 days")], []),
        (
            [
                rx("Morphine 60mg modified-release tablets", "one twice a day", "a"),
                rx("Diazepam 5mg tablets", "one at night", "b"),
            ],
            [("benzodiazepine", ("MedicationRequest/b",))],
        ),
    ],
)
def test_the_gates_a_regimen_meets(
    resources: list[dict[str, Any]], gates: list[tuple[str, tuple[str, ...]]]
) -> None:
    assert [(g.code, g.evidence) for g in taper_gates(oral_morphine_equivalent(resources))] == gates
