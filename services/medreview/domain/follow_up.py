"""Follow-up after discharge: pure rules (no I/O; dates are arguments).

When a patient leaves the service a review is scheduled at each configured interval (months after the
discharge date; default 3 and 12). When one is due the GP record is read again, the OME recomputed by the
one engine, and the figure compared with the OME at discharge: the dose ``held`` (the same), was
``reduced`` further, ``stopped`` (no opioid now), or ``increased``. A figure that is only a lower bound (a
dose not computable) or missing at either end makes the comparison ``not-computable``: recorded as such,
never guessed.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

__all__ = ["DoseHeld", "OmeFigure", "add_months", "dose_held", "follow_up_dates"]


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months; the 31st becomes the month's last day (31 Jan + 1 = 28/29 Feb)."""
    if months < 0:
        raise ValueError("months must not be negative")
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def follow_up_dates(discharged: date, intervals_months: tuple[int, ...]) -> list[tuple[int, date]]:
    """(months, due date) of each follow-up review, in order, each interval once."""
    return [(m, add_months(discharged, m)) for m in sorted(set(intervals_months))]


@dataclass(frozen=True)
class OmeFigure:
    """A total daily OME (mg/day); ``complete`` False when it is only a lower bound."""

    mg_per_day: Decimal
    complete: bool


class DoseHeld(StrEnum):
    HELD = "held"
    REDUCED = "reduced"
    STOPPED = "stopped"
    INCREASED = "increased"
    NOT_COMPUTABLE = "not-computable"


def dose_held(at_discharge: OmeFigure | None, at_follow_up: OmeFigure | None) -> DoseHeld:
    """Compare the follow-up total with the total at discharge (module doc); exact figures only."""
    if at_discharge is None or at_follow_up is None:
        return DoseHeld.NOT_COMPUTABLE
    if not (at_discharge.complete and at_follow_up.complete):
        return DoseHeld.NOT_COMPUTABLE
    before, after = at_discharge.mg_per_day, at_follow_up.mg_per_day
    if after > before:
        return DoseHeld.INCREASED
    if after == before:
        return DoseHeld.HELD
    return DoseHeld.STOPPED if after == 0 else DoseHeld.REDUCED
