"""PROMs at a follow-up after discharge (``services.careplan.domain.follow_up_proms``): table-driven.

Scores worked by hand from the instruments (the items as the assessment Questionnaire asks them):
* PHQ-9 (Kroenke K, Spitzer RL, Williams JB. J Gen Intern Med 2001;16:606-13): the sum of 9 items 0-3.
  At discharge 2+2+1+1+2+1+1+0+0 = 10; at follow-up 1+1+0+1+1+0+1+0+0 = 5; change 5 - 10 = -5.
* GAD-7 (Spitzer RL et al. Arch Intern Med 2006;166:1092-7): the sum of 7 items 0-3.
  At discharge 1+1+2+1+0+1+1 = 7; at follow-up 0+1+1+0+0+1+0 = 3; change 3 - 7 = -4.
* PEG (Krebs EE et al. J Gen Intern Med 2009;24:733-8): the mean of 3 items 0-10.
  At discharge (6+5+7)/3 = 6.0; at follow-up (4+3+4)/3 = 11/3 = 3.67, to one decimal 3.7; change -2.3.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.careplan.domain.assessment import peg_mean
from services.careplan.domain.follow_up_proms import PromAtFollowUp, proms_at_follow_up
from services.careplan.domain.outcomes import Reading

DISCHARGED = date(2024, 3, 1)
FOLLOW_UP = date(2024, 6, 1)  # 3 months after


def r(on: str, value: str | Decimal) -> Reading:
    return Reading(date.fromisoformat(on), Decimal(value))


def test_the_hand_worked_figures_are_the_instruments_scores() -> None:
    assert sum((2, 2, 1, 1, 2, 1, 1, 0, 0)) == 10 and sum((1, 1, 0, 1, 1, 0, 1, 0, 0)) == 5  # PHQ-9
    assert sum((1, 1, 2, 1, 0, 1, 1)) == 7 and sum((0, 1, 1, 0, 0, 1, 0)) == 3  # GAD-7
    assert peg_mean(6, 5, 7) == Decimal("6.0") and peg_mean(4, 3, 4) == Decimal("3.7")  # PEG


BOTH = {
    "peg": [r("2024-01-10", "8.0"), r("2024-02-20", "6.0"), r("2024-05-28", "3.7")],
    "phq-9": [r("2024-02-20", 10), r("2024-05-28", 5)],
    "gad-7": [r("2024-02-20", 7), r("2024-05-28", 3)],
}


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        (
            # Scores at discharge (20 Feb) and since (28 May): each with its change.
            BOTH,
            {
                "peg": (Decimal("3.7"), Decimal("6.0"), Decimal("-2.3"), None),
                "phq-9": (Decimal(5), Decimal(10), Decimal(-5), None),
                "gad-7": (Decimal(3), Decimal(7), Decimal(-4), None),
            },
        ),
        (
            # A response after the follow-up's day is not a score as of the follow-up; one on the discharge
            # day is the discharge score, not a follow-up one; of two since discharge the latest counts.
            {
                "peg": [r("2024-03-01", "6.0"), r("2024-06-02", "2.0")],
                "phq-9": [r("2024-02-20", 10), r("2024-04-01", 12), r("2024-06-01", 5)],
                "gad-7": [r("2024-03-01", 7)],
            },
            {
                "peg": (None, Decimal("6.0"), None, "no-response-since-discharge"),
                "phq-9": (Decimal(5), Decimal(10), Decimal(-5), None),
                "gad-7": (None, Decimal(7), None, "no-response-since-discharge"),
            },
        ),
        (
            # Never answered: not computable, saying so; answered only after discharge: a score, no change.
            {"phq-9": [r("2024-04-01", 12)]},
            {
                "peg": (None, None, None, "no-response"),
                "phq-9": (Decimal(12), None, None, "no-score-at-discharge"),
                "gad-7": (None, None, None, "no-response"),
            },
        ),
        (
            # A score that is not a figure is never used.
            {"gad-7": [Reading(date(2024, 2, 1), Decimal(7)), Reading(date(2024, 5, 1), None, "refused")]},
            {
                "peg": (None, None, None, "no-response"),
                "phq-9": (None, None, None, "no-response"),
                "gad-7": (None, Decimal(7), None, "no-response-since-discharge"),
            },
        ),
    ],
)
def test_proms_at_follow_up(
    readings: dict[str, list[Reading]],
    expected: dict[str, tuple[Decimal | None, Decimal | None, Decimal | None, str | None]],
) -> None:
    found = proms_at_follow_up(readings, DISCHARGED, FOLLOW_UP)
    assert [p.measure for p in found] == ["peg", "phq-9", "gad-7"]
    assert {p.measure: (p.score, p.at_discharge, p.change, p.reason) for p in found} == expected


def test_the_days_of_both_scores_are_kept() -> None:
    peg = proms_at_follow_up(BOTH, DISCHARGED, FOLLOW_UP)[0]
    assert peg == PromAtFollowUp(
        "peg", Decimal("3.7"), date(2024, 5, 28), Decimal("6.0"), date(2024, 2, 20), Decimal("-2.3"), None
    )


def test_a_follow_up_before_the_discharge_is_refused() -> None:
    with pytest.raises(ValueError, match="comes after the discharge"):
        proms_at_follow_up(BOTH, DISCHARGED, date(2024, 2, 1))
