"""Pure rules of contact during a reduction (services/medreview/domain/concerns.py) and follow-up after
discharge (services/medreview/domain/follow_up.py). Expected figures are worked out by hand in each test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.medreview.domain.concerns import (
    ConcernKind,
    ConcernPolicy,
    escalated_priority,
    is_overdue,
    triage,
)
from services.medreview.domain.follow_up import DoseHeld, OmeFigure, add_months, dose_held, follow_up_dates

RAISED = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)
POLICY = ConcernPolicy(pause_severity=7, answer_hours=(("asap", 4), ("urgent", 24)))


@pytest.mark.parametrize(
    ("kind", "severity", "priority", "pauses", "offers", "hours"),
    [
        (ConcernKind.WITHDRAWAL, 7, "asap", True, False, 4),  # at the threshold: pauses
        (ConcernKind.WITHDRAWAL, 6, "asap", False, False, 4),  # just below: does not
        (ConcernKind.MOOD, 9, "asap", True, False, 4),
        (ConcernKind.MOOD, 3, "asap", False, False, 4),
        (ConcernKind.PAIN_FLARE, 10, "urgent", False, True, 24),  # a flare never pauses by itself
    ],
)
def test_a_concern_gets_its_priority_by_kind_and_pauses_at_or_above_the_severity(
    kind: ConcernKind, severity: int, priority: str, pauses: bool, offers: bool, hours: int
) -> None:
    found = triage(kind, severity, RAISED, POLICY)
    assert (found.priority, found.pauses, found.offers_step_back) == (priority, pauses, offers)
    assert found.answer_by == RAISED + timedelta(hours=hours)


def test_a_severity_outside_0_to_10_is_refused() -> None:
    with pytest.raises(ValueError, match="0 to 10"):
        triage(ConcernKind.MOOD, 11, RAISED, POLICY)


def test_the_answer_times_and_pause_severity_are_configurable() -> None:
    policy = ConcernPolicy(pause_severity=3, answer_hours=(("asap", 1), ("urgent", 8)))
    found = triage(ConcernKind.MOOD, 3, RAISED, policy)
    assert found.pauses and found.answer_by == datetime(2026, 4, 20, 10, 0, tzinfo=UTC)
    assert triage(ConcernKind.PAIN_FLARE, 1, RAISED, policy).answer_by == datetime(
        2026, 4, 20, 17, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("priority", "up"), [("routine", "urgent"), ("urgent", "asap"), ("asap", "stat"), ("stat", "stat")]
)
def test_escalation_raises_the_priority_one_level(priority: str, up: str) -> None:
    assert escalated_priority(priority) == up


def test_a_concern_is_overdue_from_its_answer_time_only_when_unanswered_and_not_yet_escalated() -> None:
    due = RAISED + timedelta(hours=4)
    assert not is_overdue(due, answered=False, escalated=False, now=due - timedelta(seconds=1))
    assert is_overdue(due, answered=False, escalated=False, now=due)
    assert not is_overdue(due, answered=True, escalated=False, now=due + timedelta(days=1))
    assert not is_overdue(due, answered=False, escalated=True, now=due + timedelta(days=1))
    assert not is_overdue(None, answered=False, escalated=False, now=due)


def test_follow_ups_fall_3_and_12_calendar_months_after_discharge() -> None:
    assert follow_up_dates(date(2026, 5, 15), (12, 3, 3)) == [(3, date(2026, 8, 15)), (12, date(2027, 5, 15))]


def test_a_month_on_from_the_31st_is_the_last_day_of_a_shorter_month() -> None:
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)  # 2028 is a leap year
    assert add_months(date(2026, 1, 31), 12) == date(2027, 1, 31)


def _mg(value: str, complete: bool = True) -> OmeFigure:
    return OmeFigure(Decimal(value), complete)


@pytest.mark.parametrize(
    ("at_discharge", "at_follow_up", "held"),
    [
        (_mg("120"), _mg("120"), DoseHeld.HELD),
        (_mg("120"), _mg("60"), DoseHeld.REDUCED),
        (_mg("120"), _mg("0"), DoseHeld.STOPPED),
        (_mg("60"), _mg("60.5"), DoseHeld.INCREASED),  # any rise is a rise: no tolerance is guessed
        (_mg("0"), _mg("0"), DoseHeld.HELD),
        (_mg("120", complete=False), _mg("60"), DoseHeld.NOT_COMPUTABLE),
        (_mg("120"), _mg("60", complete=False), DoseHeld.NOT_COMPUTABLE),
        (None, _mg("60"), DoseHeld.NOT_COMPUTABLE),
        (_mg("120"), None, DoseHeld.NOT_COMPUTABLE),
    ],
)
def test_whether_the_dose_held_compares_exact_figures_only(
    at_discharge: OmeFigure | None, at_follow_up: OmeFigure | None, held: DoseHeld
) -> None:
    assert dose_held(at_discharge, at_follow_up) is held
