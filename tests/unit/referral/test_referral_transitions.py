"""The referral's moves after triage, through its Task operations (``$transition``, ``$invite``,
``$record-consent``, ``$enrol``, ``$discharge``) run as the kernel runs them: ``handler(call, uow)`` in
one transaction with the X-Request-Id claim, the writes, their Provenance, the AuditEvent and the
outbox events; over a SQLite file, no HTTP.

The allowed and refused moves are the workflow's, as ``services/referral/domain/workflow.py``'s
docstring draws them::

    received -> triaged -> eligible | ineligible | needs-review
    needs-review -> eligible | ineligible                        (a project worker's review)
    eligible -> invited -> consented | declined | no-response
    no-response -> invited                                        (invited again)
    consented -> enrolled -> discharged

and ``services/referral/operations/transitions.py``'s: "A move the workflow does not allow is a 409; a
move that needs its own operation is a 422", each with the effect its line there names. BRIEF.md:
enrolment lasts up to 2 years. A refused move changes nothing already stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.referral.domain.workflow import REFERRAL_STATUS_SYSTEM, State
from services.referral.fhir_mapping import moved_task, new_task
from shared.fhir import BadRequest, Conflict, FhirError, Unprocessable
from tests.support.referral_records import patient
from tests.support.referral_unit import ReferralUnit, referral_unit

AT = datetime(2024, 6, 15, 11, 0, tzinfo=UTC)


@pytest.fixture
def referral(tmp_path: Path) -> Iterator[ReferralUnit]:
    unit = referral_unit(tmp_path)
    yield unit
    unit.kernel.engine.dispose()


def params(**values: Any) -> dict[str, Any]:
    """A Parameters body: booleans as valueBoolean, dates (YYYY-MM-DD) as valueDate, else valueString."""

    def parameter(name: str, value: Any) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"name": name, "valueBoolean": value}
        if len(str(value)) == 10 and str(value)[4] == "-":
            return {"name": name, "valueDate": value}
        return {"name": name, "valueString": value}

    return {"resourceType": "Parameters", "parameter": [parameter(k, v) for k, v in values.items()]}


def _state(task: dict[str, Any]) -> str:
    return next(c["code"] for c in task["businessStatus"]["coding"] if c["system"] == REFERRAL_STATUS_SYSTEM)


def _decided(referral: ReferralUnit, state: State) -> str:
    """A referral and its workflow Task stored already in ``state`` (one triage reaches): the Task id."""
    with referral.unit() as uow:
        held = uow.create(patient(serial=71), activity=None)
        service_request = uow.create(
            {
                "resourceType": "ServiceRequest",
                "status": "active",
                "intent": "order",
                "subject": {"reference": f"Patient/{held['id']}"},
                "authoredOn": "2024-06-15",
            },
            activity=None,
        )
        task = new_task(service_request, uow.practice, AT)
        if state is not State.RECEIVED:
            task = moved_task(task, state, AT)
        return str(uow.create(task, activity=None)["id"])


# How each state is reached: from one triage reaches, the operations that lead to it.
ROUTE: dict[State, tuple[State, list[tuple[str, dict[str, Any]]]]] = {
    State.RECEIVED: (State.RECEIVED, []),
    State.TRIAGED: (State.TRIAGED, []),
    State.NEEDS_REVIEW: (State.NEEDS_REVIEW, []),
    State.ELIGIBLE: (State.ELIGIBLE, []),
    State.INELIGIBLE: (State.INELIGIBLE, []),
    State.INVITED: (State.ELIGIBLE, [("invite", params())]),
    State.NO_RESPONSE: (State.ELIGIBLE, [("invite", params()), ("transition", params(status="no-response"))]),
    State.DECLINED: (State.ELIGIBLE, [("invite", params()), ("record-consent", params(consented=False))]),
    State.CONSENTED: (State.ELIGIBLE, [("invite", params()), ("record-consent", params(consented=True))]),
    State.ENROLLED: (
        State.ELIGIBLE,
        [
            ("invite", params()),
            ("record-consent", params(consented=True)),
            ("enrol", params(start="2024-07-01", end="2025-07-01")),
        ],
    ),
    State.DISCHARGED: (
        State.ELIGIBLE,
        [
            ("invite", params()),
            ("record-consent", params(consented=True)),
            ("enrol", params(start="2024-07-01", end="2025-07-01")),
            ("discharge", params(date="2025-01-15")),
        ],
    ),
}


def _in_state(referral: ReferralUnit, state: State) -> str:
    start, steps = ROUTE[state]
    task_id = _decided(referral, start)
    for name, body in steps:
        referral.call(name, body, resource_id=task_id)
    assert _state(referral.read(f"Task/{task_id}")) == state.value
    return task_id


Check = Callable[[ReferralUnit, dict[str, Any], Any], None]


def _accepted(referral: ReferralUnit, task: dict[str, Any], result: Any) -> None:
    assert referral.read(task["focus"]["reference"])["status"] == "active"


def _rejected(referral: ReferralUnit, task: dict[str, Any], result: Any) -> None:
    assert referral.read(task["focus"]["reference"])["status"] == "revoked"
    assert "statusReason" in task  # the reasons the review weighed


def _letter(referral: ReferralUnit, task: dict[str, Any], result: Any) -> None:
    assert (result["resourceType"], result["status"]) == ("Communication", "completed")
    assert task["output"][-1]["valueReference"] == {"reference": f"Communication/{result['id']}"}
    assert "addict" not in str(result).lower()  # BRIEF.md: letters never say 'addict'


def _consent(status: str, provision: str) -> Check:
    def check(referral: ReferralUnit, task: dict[str, Any], result: Any) -> None:
        assert result["resourceType"] == "Consent"
        assert (result["status"], result["provision"]["type"]) == (status, provision)
        assert result["patient"] == task["for"]

    return check


def _episode(referral: ReferralUnit, task: dict[str, Any], result: Any) -> None:
    assert (result["resourceType"], result["status"]) == ("EpisodeOfCare", "active")
    assert result["period"] == {"start": "2024-07-01", "end": "2026-07-01"}  # 2 years (BRIEF.md)
    assert result["referralRequest"] == [task["focus"]]


def _finished(referral: ReferralUnit, task: dict[str, Any], result: Any) -> None:
    assert (result["resourceType"], result["status"]) == ("EpisodeOfCare", "finished")
    assert result["period"]["end"] == "2025-01-15"
    assert referral.read(task["focus"]["reference"])["status"] == "completed"


def _nothing(referral: ReferralUnit, task: dict[str, Any], result: Any) -> None:
    pass


ALLOWED = [
    # needs-review -> eligible | ineligible: a project worker's review decides, and tells the others
    (
        State.NEEDS_REVIEW,
        "transition",
        params(status="eligible"),
        "eligible",
        ["referral.accepted"],
        _accepted,
    ),
    (
        State.NEEDS_REVIEW,
        "transition",
        params(status="ineligible"),
        "ineligible",
        ["referral.rejected"],
        _rejected,
    ),
    # eligible -> invited: the letter as a Communication, patient.invited
    (State.ELIGIBLE, "invite", params(), "invited", ["patient.invited"], _letter),
    # no-response -> invited: invited again
    (State.NO_RESPONSE, "invite", params(), "invited", ["patient.invited"], _letter),
    # invited -> consented (Consent active) | declined (Consent rejected)
    (State.INVITED, "record-consent", params(consented=True), "consented", [], _consent("active", "permit")),
    (State.INVITED, "record-consent", params(consented=False), "declined", [], _consent("rejected", "deny")),
    # invited -> declined | no-response: moves with no effect of their own
    (State.INVITED, "transition", params(status="no-response"), "no-response", [], _nothing),
    (State.INVITED, "transition", params(status="declined"), "declined", [], _nothing),
    # consented -> enrolled: an EpisodeOfCare of up to 2 years, patient.enrolled
    (
        State.CONSENTED,
        "enrol",
        params(start="2024-07-01", end="2026-07-01"),
        "enrolled",
        ["patient.enrolled"],
        _episode,
    ),
    # enrolled -> discharged: the EpisodeOfCare finished, patient.discharged
    (State.ENROLLED, "discharge", params(date="2025-01-15"), "discharged", ["patient.discharged"], _finished),
]


@pytest.mark.parametrize(
    ("state", "operation", "body", "target", "events", "check"),
    ALLOWED,
    ids=[f"{row[0]}-{row[1]}-{row[3]}" for row in ALLOWED],
)
def test_an_allowed_move_changes_the_task_with_its_effect_and_events_in_one_transaction(
    referral: ReferralUnit,
    state: State,
    operation: str,
    body: dict[str, Any],
    target: str,
    events: list[str],
    check: Check,
) -> None:
    task_id = _in_state(referral, state)
    before = referral.snapshot()
    version = int(referral.read(f"Task/{task_id}")["meta"]["versionId"])

    result = referral.call(operation, body, resource_id=task_id, request_id=f"req-{operation}")

    task = referral.read(f"Task/{task_id}")
    assert _state(task) == target
    assert int(task["meta"]["versionId"]) == version + 1
    new_events = referral.events()[before["outbox"] :]
    assert [e["type"] for e in new_events] == [f"{t}.v1" for t in events]
    check(referral, task, result)
    after = referral.snapshot()
    assert after["fhir_request"] == before["fhir_request"] + 1  # the X-Request-Id claimed with the move
    provenance = referral.resources("Provenance")[-1]  # the move's writes signed as one update
    assert provenance["activity"]["coding"][0]["code"] == "UPDATE"
    assert f"Task/{task_id}/_history/{version + 1}" in {t["reference"] for t in provenance["target"]}


REFUSED = [
    # received -> triaged only: triage, not a person, decides
    (
        State.RECEIVED,
        "transition",
        params(status="eligible"),
        Conflict,
        "cannot move from received to eligible",
    ),
    # triaged -> eligible | ineligible | needs-review: no letter before a decision
    (State.TRIAGED, "invite", params(), Conflict, "cannot move from triaged to invited"),
    # needs-review -> eligible | ineligible: invited only once eligible
    (State.NEEDS_REVIEW, "invite", params(), Conflict, "cannot move from needs-review to invited"),
    # ineligible: the workflow has ended
    (State.INELIGIBLE, "invite", params(), Conflict, "the referral's workflow has ended"),
    # eligible -> invited only: consent is asked by the invitation
    (
        State.ELIGIBLE,
        "record-consent",
        params(consented=True),
        Conflict,
        "cannot move from eligible to consented",
    ),
    # invited -> consented | declined | no-response: no enrolment without consent
    (State.INVITED, "enrol", params(start="2024-07-01"), Conflict, "cannot move from invited to enrolled"),
    # declined: the workflow has ended
    (State.DECLINED, "invite", params(), Conflict, "the referral's workflow has ended"),
    # consented -> enrolled only
    (
        State.CONSENTED,
        "discharge",
        params(date="2025-01-15"),
        Conflict,
        "cannot move from consented to discharged",
    ),
    # discharged: the workflow has ended
    (State.DISCHARGED, "discharge", params(date="2025-02-01"), Conflict, "the referral's workflow has ended"),
    # a move with effects of its own goes through its own operation (422)
    (State.ELIGIBLE, "transition", params(status="invited"), Unprocessable, "use $invite"),
    (State.CONSENTED, "transition", params(status="enrolled"), Unprocessable, "use $enrol"),
    # enrolment lasts up to 2 years (BRIEF.md): 1 July 2024 + 2 years is 1 July 2026
    (
        State.CONSENTED,
        "enrol",
        params(start="2024-07-01", end="2026-07-02"),
        Unprocessable,
        "ends between its start and 2026-07-01",
    ),
    # a discharge before the enrolment began (1 July 2024)
    (State.ENROLLED, "discharge", params(date="2024-06-30"), Unprocessable, "before the enrolment began"),
    # a state the workflow does not have; a consent with no answer
    (State.NEEDS_REVIEW, "transition", params(status="approved"), BadRequest, "status must be one of"),
    (State.INVITED, "record-consent", params(), BadRequest, "consented (boolean) is required"),
]


@pytest.mark.parametrize(
    ("state", "operation", "body", "refusal", "says"),
    REFUSED,
    ids=[f"{row[0]}-{row[1]}-{row[4][:24]}" for row in REFUSED],
)
def test_a_refused_move_is_an_operation_outcome_and_changes_nothing(
    referral: ReferralUnit,
    state: State,
    operation: str,
    body: dict[str, Any],
    refusal: type[FhirError],
    says: str,
) -> None:
    task_id = _in_state(referral, state)
    before = referral.snapshot()

    with pytest.raises(refusal) as refused:
        referral.call(operation, body, resource_id=task_id)

    status = {Conflict: 409, Unprocessable: 422, BadRequest: 400}[refusal]
    [issue] = refused.value.to_operation_outcome()["issue"]
    assert (refused.value.status, issue["severity"]) == (status, "error")
    assert says in issue["diagnostics"]
    assert referral.snapshot() == before  # no version, no event, no claim of the X-Request-Id


def test_a_referral_withdrawn_by_its_sender_cannot_be_moved(referral: ReferralUnit) -> None:
    """workflow.py: a referral withdrawn before enrolment is cancelled, whatever its business state."""
    task_id = _in_state(referral, State.ELIGIBLE)
    with referral.unit() as uow:
        task = uow.read(f"Task/{task_id}")
        uow.replace({**task, "status": "cancelled"}, activity=None)
    before = referral.snapshot()

    with pytest.raises(Conflict, match="withdrawn by its sender"):
        referral.call("invite", params(), resource_id=task_id)
    assert referral.snapshot() == before
