"""A taper step comes back from the GP record as its dosage text alone: the one dose reader reads it back.

GP Connect returns a prescription's dosage as text; the step medreview wrote ("25 mg morphine twice a day (50
mg a day): 1 x 15 mg tablet + 1 x 10 mg tablet each dose", with what to supply after it) must read back as
the dose approved, or the next step could not be checked against it. Every writing in it must agree (units
make the dose, ml make it with the strength, dose x times a day = daily total), else it is refused, never
guessed. Figures worked by hand with the Opioids Aware factors (docs/domain/reference-facts.md): morphine 1,
oxycodone 1.5.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.medicines.ome import oral_morphine_equivalent

SUPPLY = (
    ". Controlled drug, Schedule 2. Supply twenty-eight (28) tablets of Morphine sulfate 30mg "
    "modified-release tablets (14 days)"
)


def _read(product: str, text: str) -> tuple[bool, Decimal | None, bool, str | None]:
    request = {
        "resourceType": "MedicationRequest",
        "id": "gp-1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "medicationCodeableConcept": {"text": product},
        "dosageInstruction": [{"text": text}],
    }
    [med] = oral_morphine_equivalent([request]).medications
    return med.computable, med.ome_mg_per_day, med.as_needed, med.reason_code


@pytest.mark.parametrize(
    ("product", "text", "ome", "as_needed", "why"),
    [
        (
            "Morphine sulfate 15mg modified-release tablets",
            "25 mg morphine twice a day (50 mg a day): 1 x 15 mg tablet + 1 x 10 mg tablet each dose",
            "50",
            False,
            "15 + 10 = 25 mg a dose; 25 x 2 = 50 mg a day, as stated; morphine x 1 = 50",
        ),
        (
            "Morphine sulfate 30mg modified-release tablets",
            "30 mg morphine twice a day (60 mg a day): 1 x 30 mg tablet each dose" + SUPPLY,
            "60",
            False,
            "1 x 30 = 30 mg a dose; x 2 = 60 mg a day; the supply sentence is the quantity, not the dose",
        ),
        (
            "Morphine sulfate 10mg/5ml oral solution",
            "2.5 mg morphine (1.25 ml of Morphine sulfate 10mg/5ml oral solution) up to four times a day "
            "when required, at most 10 mg a day",
            "10",
            True,
            "1.25 ml x 2 mg/ml = 2.5 mg a dose; x 4 = 10 mg a day at most; morphine x 1 = 10",
        ),
        (
            "Oxycodone 5mg capsules",
            "5 mg oxycodone up to three times a day when required (at most 15 mg a day): 1 x 5 mg capsule "
            "each dose",
            "22.5",
            True,
            "1 x 5 = 5 mg a dose; x 3 = 15 mg a day at most; oxycodone x 1.5 = 22.5",
        ),
        (
            "Generic Solpadeine Plus tablets",
            "8 mg codeine three times a day (24 mg a day): 1 x 8 mg tablet each dose. Supply 42 (forty-two) "
            "tablets of Generic Solpadeine Plus tablets (14 days)",
            "2.4",
            False,
            "a compound product: the masses are codeine's because the step names codeine (and agree: 1 x 8 "
            "= 8 mg a dose, x 3 = 24 mg a day); codeine x 0.1 = 2.4",
        ),
    ],
)
def test_a_step_written_back_reads_as_the_dose_approved(
    product: str, text: str, ome: str, as_needed: bool, why: str
) -> None:
    computable, figure, prn, reason = _read(product, text)
    assert computable, (reason, why)
    assert figure == Decimal(ome), why
    assert prn is as_needed


@pytest.mark.parametrize(
    ("product", "text", "why"),
    [
        (
            "Morphine sulfate 30mg modified-release tablets",
            "30 mg morphine twice a day (50 mg a day): 1 x 30 mg tablet each dose",
            "30 x 2 = 60, not the 50 stated",
        ),
        (
            "Morphine sulfate 15mg modified-release tablets",
            "25 mg morphine twice a day (50 mg a day): 1 x 15 mg tablet + 1 x 5 mg tablet each dose",
            "15 + 5 = 20, not the 25 a dose stated",
        ),
        (
            "Morphine sulfate 10mg/5ml oral solution",
            "2.5 mg morphine (2.5 ml of Morphine sulfate 10mg/5ml oral solution) up to four times a day "
            "when required, at most 10 mg a day",
            "2.5 ml x 2 mg/ml = 5 mg, not the 2.5 mg stated",
        ),
        (
            "Oxycodone 5mg capsules",
            "5 mg oxycodone three times a day when required (at most 15 mg a day): 1 x 5 mg capsule "
            "each dose",
            "'when required' without 'up to': the two halves disagree on whether the doses are a maximum",
        ),
        (
            "Generic Solpadeine Plus tablets",
            "500 mg paracetamol three times a day (1500 mg a day): 1 x 500 mg tablet each dose",
            "a step naming the partner ingredient: its masses are not the opioid's",
        ),
    ],
)
def test_a_step_whose_writings_disagree_is_refused(product: str, text: str, why: str) -> None:
    computable, figure, _prn, reason = _read(product, text)
    assert not computable and figure is None, why
    refused_as = ("dose-inconsistent", "dose-mass-in-compound")
    assert reason is not None and reason.endswith(refused_as), (reason, why)
