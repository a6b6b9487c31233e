"""Outcomes at baseline, 6 and 12 months (pure): which reading counts, who is excluded and why, the figures.

Every expected figure is worked out by hand in the comments from the readings given (dates counted on the
calendar: 2024 is a leap year).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.careplan.domain.outcomes import (
    TIMEPOINTS,
    Picked,
    Reading,
    Timepoint,
    change_from_baseline,
    mean,
    median,
    reading_at,
    summary_at,
)

BASELINE, SIX, TWELVE = TIMEPOINTS
ENROLLED = date(2024, 1, 15)
# Windows for an enrolment on 2024-01-15 (by hand):
#   baseline: 90 days before (2023-10-17) to 42 days after (2024-02-26)
#   6 months: day 182 is 2024-07-15 (16 + 29 + 31 + 30 + 31 + 30 + 15 days); +/- 42: 2024-06-03 .. 2024-08-26
#   12 months: day 365 is 2025-01-14 (2024 has 366 days); +/- 42: 2024-12-03 .. 2025-02-25
END = date(2025, 6, 30)


def _r(on: str, value: int | str | None, reason: str | None = None) -> Reading:
    return Reading(date.fromisoformat(on), None if value is None else Decimal(value), reason)


@pytest.mark.parametrize(
    ("readings", "timepoint", "end", "expected"),
    [
        # the only reading in the baseline window
        ([_r("2024-01-20", 120)], BASELINE, END, Picked(Decimal(120))),
        # a review a year before enrolment is not a baseline (window opens 2023-10-17)
        ([_r("2023-03-01", 200)], BASELINE, END, Picked(None, "no-reading-in-window")),
        # first day of the window counts; the day before does not
        ([_r("2023-10-17", 100)], BASELINE, END, Picked(Decimal(100))),
        ([_r("2023-10-16", 100)], BASELINE, END, Picked(None, "no-reading-in-window")),
        # closest to the target wins: 2024-01-10 is 5 days off, 2024-01-25 is 10 days off
        ([_r("2024-01-25", 80), _r("2024-01-10", 90)], BASELINE, END, Picked(Decimal(90))),
        # a tie (5 days either side) goes to the earlier
        ([_r("2024-01-20", 80), _r("2024-01-10", 90)], BASELINE, END, Picked(Decimal(90))),
        # the closest is a lower bound: excluded with its reason, never replaced by a farther figure
        (
            [_r("2024-01-16", None, "lower bound (>=): no-fixed-factor"), _r("2024-02-10", 70)],
            BASELINE,
            END,
            Picked(None, "not-computable", "lower bound (>=): no-fixed-factor"),
        ),
        # 6 months: 2024-07-10 is inside 2024-06-03 .. 2024-08-26; 2024-05-01 is not
        ([_r("2024-05-01", 85), _r("2024-07-10", 90)], SIX, END, Picked(Decimal(90))),
        ([_r("2024-05-01", 85)], SIX, END, Picked(None, "no-reading-in-window")),
        # 12 months, window 2024-12-03 .. 2025-02-25; the period ends 2024-12-31, before the window closes
        ([], TWELVE, date(2024, 12, 31), Picked(None, "window-not-closed")),
        # a reading after the period's end is not used, even inside the window
        ([_r("2025-01-20", 60)], TWELVE, date(2024, 12, 31), Picked(None, "window-not-closed")),
        ([_r("2025-01-20", 60)], TWELVE, END, Picked(Decimal(60))),
    ],
)
def test_the_reading_at_a_timepoint_is_the_closest_in_its_window(
    readings: list[Reading], timepoint: Timepoint, end: date, expected: Picked
) -> None:
    assert reading_at(readings, ENROLLED, timepoint, end) == expected


@pytest.mark.parametrize(
    ("values", "expected_mean", "expected_median"),
    [
        ([], None, None),
        (["120"], "120.0", "120.0"),
        (["60", "40", "0"], "33.3", "40.0"),  # 100 / 3 = 33.33; middle of 0, 40, 60
        (["90", "70"], "80.0", "80.0"),  # even count: mean of the middle two
        (["0.05", "0.1"], "0.1", "0.1"),  # 0.075 rounds half up to 0.1
        (["-60", "-90"], "-75.0", "-75.0"),
    ],
)
def test_means_and_medians_are_to_a_tenth(
    values: list[str], expected_mean: str | None, expected_median: str | None
) -> None:
    numbers = [Decimal(v) for v in values]
    assert mean(numbers) == (None if expected_mean is None else Decimal(expected_mean))
    assert median(numbers) == (None if expected_median is None else Decimal(expected_median))


# The hand-built three-patient cohort (mg/day). The old evaluation took each patient's first and latest
# review with no window, treated a lower bound as exact and summed first and latest across patients.
COHORT = {
    "Patient/a": date(2024, 1, 15),
    "Patient/b": date(2024, 2, 1),
    "Patient/c": date(2024, 3, 1),
}
OME = {
    # a: the 2023 review is outside every window; baseline 120 (2024-01-20), 6 months 90 (2024-07-10),
    #    12 months 60 (2025-01-20; window 2024-12-03 .. 2025-02-25)
    "Patient/a": [_r("2023-03-01", 200), _r("2024-01-20", 120), _r("2024-07-10", 90), _r("2025-01-20", 60)],
    # b: enrolled 2024-02-01; baseline window 2023-11-03 .. 2024-03-14 holds only a lower bound;
    #    6 months: day 182 is 2024-08-01 (window 2024-06-20 .. 2024-09-12): 70 on 2024-08-05;
    #    12 months: day 365 is 2025-01-31 (window 2024-12-20 .. 2025-03-14): 40 on 2025-02-01
    "Patient/b": [
        _r("2024-02-05", None, "lower bound (>=): no-fixed-factor"),
        _r("2024-08-05", 70),
        _r("2025-02-01", 40),
    ],
    # c: enrolled 2024-03-01; baseline 90 (2024-03-04); 6 months: day 182 is 2024-08-30 (window
    #    2024-07-19 .. 2024-10-11): nothing (2024-05-01 is too early); 12 months: day 365 is 2025-03-01
    #    (window 2025-01-18 .. 2025-04-12): stopped, 0 on 2025-03-03
    "Patient/c": [_r("2024-03-04", 90), _r("2024-05-01", 85), _r("2025-03-03", 0)],
}


def test_ome_at_each_timepoint_over_the_hand_built_cohort() -> None:
    baseline = summary_at(COHORT, OME, BASELINE, END)
    # a 120 and c 90: mean 105.0, median 105.0; b excluded (its only baseline reading is a lower bound)
    assert (baseline.count, baseline.mean, baseline.median) == (2, Decimal("105.0"), Decimal("105.0"))
    assert baseline.excluded == {"not-computable": 1}
    assert baseline.reasons == {"lower bound (>=): no-fixed-factor": 1}
    six = summary_at(COHORT, OME, SIX, END)
    # a 90, b 70: mean 80.0, median 80.0; c has no reading in its window
    assert (six.count, six.mean, six.median) == (2, Decimal("80.0"), Decimal("80.0"))
    assert six.excluded == {"no-reading-in-window": 1}
    twelve = summary_at(COHORT, OME, TWELVE, END)
    # a 60, b 40, c 0: mean 100 / 3 = 33.3, median 40.0; nobody excluded
    assert (twelve.count, twelve.mean, twelve.median) == (3, Decimal("33.3"), Decimal("40.0"))
    assert twelve.excluded == {}


def test_ome_change_and_reductions_over_the_hand_built_cohort() -> None:
    six = change_from_baseline(COHORT, OME, SIX, END)
    # only a has both: 90 - 120 = -30 (a fall of 30/120 = 25%: >= 15%, not >= 50%)
    # b: no baseline figure; c: no 6-month reading
    assert (six.count, six.mean, six.median) == (1, Decimal("-30.0"), Decimal("-30.0"))
    assert six.excluded == {"no-baseline-figure": 1, "no-reading-in-window": 1}
    assert (six.above_zero, six.reduced_15, six.reduced_50, six.stopped) == (1, 1, 0, 0)
    twelve = change_from_baseline(COHORT, OME, TWELVE, END)
    # a: 60 - 120 = -60 (a fall of exactly 50%: counts as >= 50%); c: 0 - 90 = -90 (stopped)
    # mean (-60 - 90) / 2 = -75.0, median -75.0; b excluded, no baseline figure
    assert (twelve.count, twelve.mean, twelve.median) == (2, Decimal("-75.0"), Decimal("-75.0"))
    assert twelve.excluded == {"no-baseline-figure": 1}
    assert (twelve.above_zero, twelve.reduced_15, twelve.reduced_50, twelve.stopped) == (2, 2, 2, 1)


def test_before_the_12_month_windows_close_patients_are_not_yet_due_not_missing() -> None:
    # period ending 2024-12-31: every 12-month window (the earliest closes 2025-02-25) is still open
    twelve = change_from_baseline(COHORT, OME, TWELVE, date(2024, 12, 31))
    assert twelve.count == 0 and twelve.mean is None
    assert twelve.excluded == {"no-baseline-figure": 1, "window-not-closed": 2}


def test_a_zero_baseline_counts_in_the_change_but_not_in_the_reductions() -> None:
    cohort = {"Patient/z": date(2024, 1, 15)}
    readings = {"Patient/z": [_r("2024-01-15", 0), _r("2024-07-15", 20)]}
    change = change_from_baseline(cohort, readings, SIX, END)
    # 20 - 0 = +20; a fall from 0 is not defined, so the reductions' denominator is 0
    assert (change.count, change.mean, change.above_zero, change.stopped) == (1, Decimal("20.0"), 0, 0)
