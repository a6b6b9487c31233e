"""The referral workflow's states and moves, table-driven: every allowed move, and the others refused."""

from __future__ import annotations

import itertools

import pytest

from services.referral.domain.eligibility import Decision
from services.referral.domain.workflow import (
    CANCELLABLE,
    OPERATION_FOR,
    TRANSITIONS,
    InvalidTransition,
    State,
    check_transition,
    decision_state,
    status_display,
    task_status,
)

S = State
ALLOWED = {
    (S.RECEIVED, S.TRIAGED),
    (S.TRIAGED, S.ELIGIBLE),
    (S.TRIAGED, S.INELIGIBLE),
    (S.TRIAGED, S.NEEDS_REVIEW),
    (S.NEEDS_REVIEW, S.ELIGIBLE),
    (S.NEEDS_REVIEW, S.INELIGIBLE),
    (S.ELIGIBLE, S.INVITED),
    (S.INVITED, S.CONSENTED),
    (S.INVITED, S.DECLINED),
    (S.INVITED, S.NO_RESPONSE),
    (S.NO_RESPONSE, S.INVITED),
    (S.CONSENTED, S.ENROLLED),
    (S.ENROLLED, S.DISCHARGED),
}


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED), ids=lambda s: str(s))
def test_each_move_of_the_pathway_is_allowed(current: State, target: State) -> None:
    check_transition(current, target)


REFUSED = [pair for pair in itertools.product(State, State) if pair not in ALLOWED]


@pytest.mark.parametrize(("current", "target"), REFUSED, ids=lambda s: str(s))
def test_every_other_move_is_refused_naming_what_is_allowed(current: State, target: State) -> None:
    with pytest.raises(InvalidTransition, match=f"from {current} to {target}"):
        check_transition(current, target)


def test_the_table_holds_exactly_the_pathways_moves() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (S.RECEIVED, "received"),
        (S.TRIAGED, "received"),
        (S.NEEDS_REVIEW, "on-hold"),
        (S.ELIGIBLE, "accepted"),
        (S.INELIGIBLE, "rejected"),
        (S.INVITED, "in-progress"),
        (S.NO_RESPONSE, "on-hold"),
        (S.CONSENTED, "in-progress"),
        (S.DECLINED, "completed"),
        (S.ENROLLED, "in-progress"),
        (S.DISCHARGED, "completed"),
    ],
)
def test_each_state_has_its_fhir_task_status_and_a_published_display(state: State, status: str) -> None:
    assert task_status(state) == status
    assert status_display(state)


@pytest.mark.parametrize(
    ("decision", "state"),
    [
        (Decision.ELIGIBLE, S.ELIGIBLE),
        (Decision.INELIGIBLE, S.INELIGIBLE),
        (Decision.NEEDS_REVIEW, S.NEEDS_REVIEW),
    ],
)
def test_an_eligibility_decision_names_the_state_after_triage(decision: Decision, state: State) -> None:
    assert decision_state(decision) is state


def test_a_referral_can_be_withdrawn_only_before_enrolment_and_before_the_workflow_ends() -> None:
    assert S.ENROLLED not in CANCELLABLE and S.DISCHARGED not in CANCELLABLE
    assert S.INELIGIBLE not in CANCELLABLE and S.DECLINED not in CANCELLABLE
    assert {S.RECEIVED, S.ELIGIBLE, S.INVITED, S.CONSENTED} <= CANCELLABLE


def test_moves_with_effects_of_their_own_have_their_operation() -> None:
    assert OPERATION_FOR == {
        S.INVITED: "$invite",
        S.CONSENTED: "$record-consent",
        S.ENROLLED: "$enrol",
        S.DISCHARGED: "$discharge",
    }
