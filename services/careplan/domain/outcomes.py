"""Outcomes at fixed times after enrolment: a figure (OME mg/day, a PROM score) at baseline, 6 and 12 months.

Pure: readings in, summaries out; dates are arguments, no clock. The rules, written once for OME and the
PROMs alike:

* A patient's **reading at a timepoint** is the reading closest to (enrolment date + the timepoint's days),
  within the timepoint's window and on or before the period's end; on a tie, the earlier. Baseline looks
  from 90 days before enrolment to 42 days after; 6 months is day 182 and 12 months day 365, each +/- 42 days.
* A reading without a figure (an OME total that was only a lower bound: an opioid's dose was not
  computable) is never replaced by a nearer or farther one and never used as a figure: the patient is
  **excluded** at that timepoint, and the reading's reason is kept.
* Every patient of the cohort is either counted or excluded with one reason code (:data:`EXCLUSIONS`).
* Means and medians are over the patients counted, to 0.1 (half up); a **change** is follow-up minus
  baseline per patient, over patients with both figures. Reductions (>= 15%, >= 50%) and stopping (a
  follow-up of 0) are over patients whose baseline figure is above 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "EXCLUSIONS",
    "TIMEPOINTS",
    "Change",
    "Picked",
    "Reading",
    "Summary",
    "Timepoint",
    "change_from_baseline",
    "mean",
    "median",
    "reading_at",
    "summary_at",
]

TENTH = Decimal("0.1")
NO_READING = "no-reading-in-window"
NOT_YET_DUE = "window-not-closed"
NOT_COMPUTABLE = "not-computable"
NO_BASELINE_FIGURE = "no-baseline-figure"
#: Why a patient of the cohort has no figure at a timepoint (the report counts each).
EXCLUSIONS = {
    NO_READING: "No reading in the timepoint's window",
    NOT_YET_DUE: "The timepoint's window had not closed by the period's end and holds no reading yet",
    NOT_COMPUTABLE: "The reading closest to the timepoint has no figure (an OME total only a lower bound)",
    NO_BASELINE_FIGURE: "No figure at baseline, so no change can be measured",
}


@dataclass(frozen=True, slots=True)
class Reading:
    """One measurement on a day: ``value`` (mg/day, or a score), or ``None`` and ``reason`` says why."""

    on: date
    value: Decimal | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Timepoint:
    """A time after enrolment (``days``) and the window around it (days before, days after)."""

    code: str
    display: str
    days: int
    before: int
    after: int

    def window(self, enrolled_on: date) -> tuple[date, date]:
        target = enrolled_on + timedelta(days=self.days)
        return target - timedelta(days=self.before), target + timedelta(days=self.after)


TIMEPOINTS = (
    Timepoint("baseline", "Baseline", 0, 90, 42),
    Timepoint("6-months", "6 months", 182, 42, 42),
    Timepoint("12-months", "12 months", 365, 42, 42),
)


@dataclass(frozen=True, slots=True)
class Picked:
    """A patient's figure at a timepoint, or the exclusion code (and the reading's own reason) instead."""

    value: Decimal | None
    excluded: str | None = None
    reason: str | None = None


def reading_at(
    readings: Iterable[Reading], enrolled_on: date, timepoint: Timepoint, period_end: date
) -> Picked:
    """The patient's figure at ``timepoint`` (see the module's rules)."""
    low, high = timepoint.window(enrolled_on)
    target = enrolled_on + timedelta(days=timepoint.days)
    inside = [r for r in readings if low <= r.on <= high and r.on <= period_end]
    if not inside:
        return Picked(None, NOT_YET_DUE if high > period_end else NO_READING)
    closest = min(inside, key=lambda r: (abs((r.on - target).days), r.on))
    if closest.value is None:
        return Picked(None, NOT_COMPUTABLE, closest.reason)
    return Picked(closest.value)


def mean(values: Sequence[Decimal]) -> Decimal | None:
    """The mean to 0.1 (half up); ``None`` for no values."""
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(TENTH, rounding=ROUND_HALF_UP)


def median(values: Sequence[Decimal]) -> Decimal | None:
    """The median to 0.1 (half up; the mean of the middle two for an even count); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    exact = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return exact.quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Summary:
    """Figures at one timepoint over the cohort: how many counted, their mean and median, who was excluded."""

    timepoint: Timepoint
    values: tuple[Decimal, ...]
    excluded: Mapping[str, int] = field(default_factory=dict)
    reasons: Mapping[str, int] = field(default_factory=dict)  # the readings' own reasons, for NOT_COMPUTABLE

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> Decimal | None:
        return mean(self.values)

    @property
    def median(self) -> Decimal | None:
        return median(self.values)


def _picks(
    cohort: Mapping[str, date],
    readings: Mapping[str, Sequence[Reading]],
    timepoint: Timepoint,
    period_end: date,
) -> dict[str, Picked]:
    return {p: reading_at(readings.get(p, ()), on, timepoint, period_end) for p, on in sorted(cohort.items())}


def summary_at(
    cohort: Mapping[str, date],
    readings: Mapping[str, Sequence[Reading]],
    timepoint: Timepoint,
    period_end: date,
) -> Summary:
    """The figure at ``timepoint`` over ``cohort`` (patient -> enrolment date)."""
    picks = _picks(cohort, readings, timepoint, period_end).values()
    return Summary(
        timepoint,
        tuple(p.value for p in picks if p.value is not None),
        dict(Counter(p.excluded for p in picks if p.excluded)),
        dict(Counter(p.reason for p in picks if p.reason)),
    )


@dataclass(frozen=True)
class Change:
    """Follow-up minus baseline per patient with both figures; reductions over those with a baseline > 0."""

    timepoint: Timepoint
    changes: tuple[Decimal, ...]
    reduced_15: int
    reduced_50: int
    stopped: int
    above_zero: int  # patients with both figures and a baseline above 0: the reductions' denominator
    excluded: Mapping[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.changes)

    @property
    def mean(self) -> Decimal | None:
        return mean(self.changes)

    @property
    def median(self) -> Decimal | None:
        return median(self.changes)


def change_from_baseline(
    cohort: Mapping[str, date],
    readings: Mapping[str, Sequence[Reading]],
    timepoint: Timepoint,
    period_end: date,
) -> Change:
    """The change from baseline to ``timepoint`` over ``cohort``; a patient without a baseline figure is
    excluded as ``no-baseline-figure``, one without a follow-up figure for the follow-up's reason."""
    baselines = _picks(cohort, readings, TIMEPOINTS[0], period_end)
    follow_ups = _picks(cohort, readings, timepoint, period_end)
    changes: list[Decimal] = []
    excluded: Counter[str] = Counter()
    reduced_15 = reduced_50 = stopped = above_zero = 0
    for patient, before in baselines.items():
        after = follow_ups[patient]
        if before.value is None:
            excluded[NO_BASELINE_FIGURE] += 1
            continue
        if after.value is None:
            excluded[str(after.excluded)] += 1
            continue
        changes.append(after.value - before.value)
        if before.value <= 0:
            continue  # counted in the change; a relative reduction from 0 is not defined
        above_zero += 1
        fall = (before.value - after.value) / before.value
        reduced_15 += fall >= Decimal("0.15")
        reduced_50 += fall >= Decimal("0.5")
        stopped += after.value == 0
    return Change(timepoint, tuple(changes), reduced_15, reduced_50, stopped, above_zero, dict(excluded))
