"""The service evaluation's cohort shape: 34 enrolled patients and who received which intervention.

The paper gives percentages of all 34 patients (Figures 2 and 3); each is the share of exactly one
whole number of patients, which is what the cohort below gives each intervention.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

COHORT_SIZE = 34
PAPER_COUNTS = {
    "pain-management-book": 25,  # 73.5% -> 74%
    "oad-worksheets": 24,  # 70.6% -> 71%
    "de-scripting": 21,  # 61.8% -> 62%
    "exercise-planning": 18,  # 52.9% -> 53%
    "sleep-hygiene": 17,  # 50.0%
    "physiotherapy": 18,  # 52.9% -> 53%
    "relaxation-group": 18,  # 52.9% -> 53%
}
PAPER_PERCENT = {
    "pain-management-book": 74,
    "oad-worksheets": 71,
    "de-scripting": 62,
    "exercise-planning": 53,
    "sleep-hygiene": 50,
    "physiotherapy": 53,
    "relaxation-group": 53,
}


def whole_percent(count: int, of: int) -> int:
    return int((Decimal(100 * count) / of).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def received_by(patient_index: int) -> list[str]:
    """The interventions patient ``patient_index`` (0 to 33) received: spread so no one gets all."""
    return [
        code
        for offset, (code, count) in enumerate(PAPER_COUNTS.items())
        if (patient_index + 5 * offset) % COHORT_SIZE < count
    ]
