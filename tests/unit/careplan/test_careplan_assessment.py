"""PHQ-9, GAD-7 and PEG scoring of the assessment (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.careplan.domain.assessment import (
    GAD7_ITEMS,
    PEG_ITEMS,
    PHQ9_ITEMS,
    AssessmentError,
    answers_of,
    gad7_severity,
    peg_mean,
    phq9_severity,
    score_assessment,
)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "none-minimal"),
        (4, "none-minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately-severe"),
        (19, "moderately-severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_a_phq9_total_falls_in_its_severity_band(total: int, band: str) -> None:
    assert phq9_severity(total) == band


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_a_gad7_total_falls_in_its_severity_band(total: int, band: str) -> None:
    assert gad7_severity(total) == band


@pytest.mark.parametrize("total", [-1, 28])
def test_a_phq9_total_outside_0_to_27_is_refused(total: int) -> None:
    with pytest.raises(AssessmentError):
        phq9_severity(total)


@pytest.mark.parametrize(
    ("items", "mean"),
    [
        ((6, 7, 5), Decimal("6.0")),
        ((0, 0, 0), Decimal("0.0")),
        ((10, 10, 10), Decimal("10.0")),
        ((7, 7, 8), Decimal("7.3")),
        ((5, 5, 6), Decimal("5.3")),
        ((1, 2, 2), Decimal("1.7")),
    ],
)
def test_the_peg_score_is_the_mean_of_its_three_items_to_one_decimal(
    items: tuple[int, int, int], mean: Decimal
) -> None:
    assert peg_mean(*items) == mean


def test_a_peg_item_above_10_is_refused() -> None:
    with pytest.raises(AssessmentError):
        peg_mean(11, 0, 0)


def test_a_full_assessment_scores_every_instrument_and_flags_a_positive_item_9() -> None:
    answers: dict[str, object] = dict(zip(PHQ9_ITEMS, [1, 2, 1, 2, 1, 1, 0, 0, 1], strict=True))
    answers |= dict(
        zip(
            GAD7_ITEMS,
            ["LA6570-1", "LA6569-3", "LA6570-1", "LA6569-3", "LA6568-5", "LA6569-3", "LA6568-5"],
            strict=True,
        )
    )
    answers |= dict(zip(PEG_ITEMS, [6, 7, 5], strict=True))
    scores = score_assessment(answers)
    assert (scores.phq9_total, scores.phq9_severity) == (9, "mild")
    assert (scores.gad7_total, scores.gad7_severity) == (7, "mild")
    assert scores.peg_mean == Decimal("6.0")
    assert scores.phq9_item9_positive


def test_an_instrument_not_answered_at_all_has_no_score() -> None:
    scores = score_assessment(dict(zip(PEG_ITEMS, [3, 3, 3], strict=True)))
    assert scores.phq9_total is None and scores.gad7_total is None and scores.peg_mean == Decimal("3.0")


@pytest.mark.parametrize(
    "answers",
    [
        {PHQ9_ITEMS[0]: 1},  # incomplete PHQ-9
        dict.fromkeys(GAD7_ITEMS, 4),  # out of range
        dict.fromkeys(GAD7_ITEMS, "LA9999-9"),  # not an answer code
        dict.fromkeys(PEG_ITEMS, "7"),  # PEG needs numbers
    ],
)
def test_incomplete_or_out_of_range_answers_are_refused(answers: dict[str, object]) -> None:
    with pytest.raises(AssessmentError):
        score_assessment(answers)


def test_answers_are_read_from_nested_groups_of_a_response() -> None:
    items = [
        {"linkId": "peg", "item": [{"linkId": "75893-8", "answer": [{"valueInteger": 4}]}]},
        {
            "linkId": "phq-9",
            "item": [{"linkId": "44250-9", "answer": [{"valueCoding": {"code": "LA6569-3"}}]}],
        },
    ]
    assert answers_of(items) == {"75893-8": 4, "44250-9": "LA6569-3"}
