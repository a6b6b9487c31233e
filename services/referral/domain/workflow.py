"""The referral workflow: the states a referral's Task goes through and the moves allowed between them.

    received -> triaged -> eligible | ineligible | needs-review
    needs-review -> eligible | ineligible                        (a project worker's review)
    eligible -> invited -> consented | declined | no-response
    no-response -> invited                                        (invited again)
    consented -> enrolled -> discharged

The state is the Task's ``businessStatus`` (a coding from `data/codesystem-referral-status.json`);
the FHIR ``Task.status`` follows from it. A referral withdrawn by its sender before enrolment is
cancelled (``Task.status`` cancelled or entered-in-error), whatever its business state. Pure: no I/O.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from typing import Final

from services.referral.domain.eligibility import FHIR_BASE, Decision, load_data

__all__ = [
    "CANCELLABLE",
    "OPERATION_FOR",
    "REFERRAL_STATUS_SYSTEM",
    "TRANSITIONS",
    "InvalidTransition",
    "State",
    "check_transition",
    "decision_state",
    "status_display",
    "task_status",
]

REFERRAL_STATUS_SYSTEM: Final = f"{FHIR_BASE}/CodeSystem/referral-status"


class State(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    NEEDS_REVIEW = "needs-review"
    INVITED = "invited"
    CONSENTED = "consented"
    DECLINED = "declined"
    NO_RESPONSE = "no-response"
    ENROLLED = "enrolled"
    DISCHARGED = "discharged"


TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    State.RECEIVED: frozenset({State.TRIAGED}),
    State.TRIAGED: frozenset({State.ELIGIBLE, State.INELIGIBLE, State.NEEDS_REVIEW}),
    State.NEEDS_REVIEW: frozenset({State.ELIGIBLE, State.INELIGIBLE}),
    State.ELIGIBLE: frozenset({State.INVITED}),
    State.INELIGIBLE: frozenset(),
    State.INVITED: frozenset({State.CONSENTED, State.DECLINED, State.NO_RESPONSE}),
    State.NO_RESPONSE: frozenset({State.INVITED}),
    State.DECLINED: frozenset(),
    State.CONSENTED: frozenset({State.ENROLLED}),
    State.ENROLLED: frozenset({State.DISCHARGED}),
    State.DISCHARGED: frozenset(),
}

#: Moves that produce something (a letter, a Consent, an EpisodeOfCare) have their own operation.
OPERATION_FOR: Final[dict[State, str]] = {
    State.INVITED: "$invite",
    State.CONSENTED: "$record-consent",
    State.ENROLLED: "$enrol",
    State.DISCHARGED: "$discharge",
}

#: States a sender may still withdraw the referral from (before enrolment).
CANCELLABLE: Final = frozenset(
    {
        State.RECEIVED,
        State.TRIAGED,
        State.ELIGIBLE,
        State.NEEDS_REVIEW,
        State.INVITED,
        State.NO_RESPONSE,
        State.CONSENTED,
    }
)

_TASK_STATUS: Final[dict[State, str]] = {
    State.RECEIVED: "received",
    State.TRIAGED: "received",
    State.NEEDS_REVIEW: "on-hold",
    State.ELIGIBLE: "accepted",
    State.INELIGIBLE: "rejected",
    State.INVITED: "in-progress",
    State.NO_RESPONSE: "on-hold",
    State.CONSENTED: "in-progress",
    State.ENROLLED: "in-progress",
    State.DECLINED: "completed",
    State.DISCHARGED: "completed",
}


class InvalidTransition(ValueError):
    """A move the workflow does not allow from the current state."""

    def __init__(self, current: State, target: State) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: the referral's workflow has ended"
        super().__init__(f"A referral cannot move from {current} to {target} (allowed: {allowed})")
        self.current, self.target = current, target


def check_transition(current: State, target: State) -> None:
    """Raise `InvalidTransition` unless `target` may follow `current`."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)


def task_status(state: State) -> str:
    """The FHIR R4 ``Task.status`` that goes with a business state."""
    return _TASK_STATUS[state]


def decision_state(decision: Decision) -> State:
    """The state an eligibility decision moves a triaged referral to."""
    return {
        Decision.ELIGIBLE: State.ELIGIBLE,
        Decision.INELIGIBLE: State.INELIGIBLE,
        Decision.NEEDS_REVIEW: State.NEEDS_REVIEW,
    }[decision]


@cache
def _displays() -> dict[str, str]:
    return {c["code"]: c["display"] for c in load_data("codesystem-referral-status.json")["concept"]}


def status_display(state: State) -> str:
    """The state's display in the published CodeSystem."""
    return _displays()[state.value]
