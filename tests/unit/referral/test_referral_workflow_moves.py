"""The referral workflow's moves run against the kernel's unit of work, without HTTP or polling: a project
worker's review decides a referral that needed review (``needs-review -> eligible | ineligible``, see
`services.referral.domain.workflow`), moving the Task and recording the event in the same transaction;
a move the workflow does not allow is refused with the OperationOutcome that says why, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from services.referral.domain.workflow import REFERRAL_STATUS_SYSTEM, State
from services.referral.fhir_mapping import moved_task, new_task
from services.referral.operations.transitions import move
from services.referral.tables import referral_metadata
from shared.core.errors import Conflict, FhirError, Unprocessable
from shared.core.principal import Principal, parse_scopes
from shared.db import make_engine
from shared.fhir import FhirKernel, RequestContext, UnitOfWork, kernel_metadata
from shared.outbox import metadata as outbox_metadata
from shared.outbox import outbox
from tests.support.kernel import build_kernel, patient

PRACTICE = "A81001"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
RESOURCES = ("Patient", "ServiceRequest", "Task", "Provenance", "AuditEvent")


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[FhirKernel]:
    engine = make_engine(f"sqlite:///{tmp_path / 'referral.db'}")
    for metadata in (kernel_metadata, referral_metadata, outbox_metadata):
        metadata.create_all(engine)
    yield build_kernel(engine, service="referral", resources=RESOURCES)
    engine.dispose()


def _unit(kernel: FhirKernel, conn: Any) -> UnitOfWork:
    principal = Principal(
        client_id="worker", practice=PRACTICE, role="gp-system", scopes=parse_scopes("system/*.cruds")
    )
    return UnitOfWork(kernel, conn, RequestContext(principal, "req-1", "corr-1", "referral"))


def _referral(uow: UnitOfWork, state: State) -> tuple[dict[str, Any], dict[str, Any]]:
    """A referral (its ServiceRequest) and its workflow Task, already in ``state``."""
    held = uow.create(patient(), activity=None)
    service_request = uow.create(
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": f"Patient/{held['id']}"},
            "authoredOn": "2026-03-01",
        },
        activity=None,
    )
    task = new_task(service_request, PRACTICE, NOW)
    if state is not State.RECEIVED:
        task = moved_task(task, state, NOW)
    return service_request, uow.create(task, activity=None)


def _business_state(task: dict[str, Any]) -> str:
    codings = task["businessStatus"]["coding"]
    return next(c["code"] for c in codings if c["system"] == REFERRAL_STATUS_SYSTEM)


def _outbox_types(kernel: FhirKernel) -> list[str]:
    with kernel.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.payload).order_by(outbox.c.sequence))
        return [orjson.loads(row.payload)["type"] for row in rows]


def test_a_review_deciding_eligible_accepts_the_task_and_records_referral_accepted(
    kernel: FhirKernel,
) -> None:
    with kernel.engine.begin() as conn:
        uow = _unit(kernel, conn)
        service_request, task = _referral(uow, State.NEEDS_REVIEW)
        moved = move(uow, task, State.ELIGIBLE, NOW, "Reviewed: meets the criteria")

        assert _business_state(moved) == "eligible"
        assert moved["status"] == "accepted"  # Task.status follows the business state
        assert moved["lastModified"] == "2026-03-02T09:30:00Z"
        assert moved["note"][-1] == {"time": "2026-03-02T09:30:00Z", "text": "Reviewed: meets the criteria"}
        assert uow.read("Task", task["id"])["meta"]["versionId"] == "2"
        [event] = uow.events
        assert (event.type, event.subject) == (
            "referral.accepted.v1",
            f"ServiceRequest/{service_request['id']}",
        )
        carried = {e["resource"]["resourceType"]: e["resource"] for e in event.data["entry"]}
        assert _business_state(carried["Task"]) == "eligible"
    assert _outbox_types(kernel) == ["referral.accepted.v1"]  # committed with the Task's move


def test_a_review_deciding_ineligible_revokes_the_referral_and_records_referral_rejected(
    kernel: FhirKernel,
) -> None:
    with kernel.engine.begin() as conn:
        uow = _unit(kernel, conn)
        service_request, task = _referral(uow, State.NEEDS_REVIEW)
        moved = move(uow, task, State.INELIGIBLE, NOW, "Reviewed: not suitable")

        assert (_business_state(moved), moved["status"]) == ("ineligible", "rejected")
        assert moved["statusReason"]["text"] == "Reviewed: not suitable"
        assert uow.read("ServiceRequest", service_request["id"])["status"] == "revoked"
        assert [e.type for e in uow.events] == ["referral.rejected.v1"]


@pytest.mark.parametrize(
    ("state", "target", "refusal", "says"),
    [
        # eligible -> invited only: a decline needs an invitation first
        (
            State.ELIGIBLE,
            State.DECLINED,
            Conflict,
            "cannot move from eligible to declined (allowed: invited)",
        ),
        # a decided referral cannot be decided again
        (State.INELIGIBLE, State.ELIGIBLE, Conflict, "the referral's workflow has ended"),
        # a move with effects of its own goes through its own operation
        (State.ELIGIBLE, State.INVITED, Unprocessable, "use $invite"),
    ],
)
def test_a_move_the_workflow_does_not_allow_is_refused_and_changes_nothing(
    kernel: FhirKernel, state: State, target: State, refusal: type[FhirError], says: str
) -> None:
    with kernel.engine.begin() as conn:
        uow = _unit(kernel, conn)
        _, task = _referral(uow, state)
        with pytest.raises(refusal) as refused:
            move(uow, task, target, NOW, None)

        outcome = refused.value.to_operation_outcome()
        [issue] = outcome["issue"]
        status, code = (409, "conflict") if refusal is Conflict else (422, "business-rule")
        assert (refused.value.status, issue["severity"], issue["code"]) == (status, "error", code)
        assert says in issue["diagnostics"]
        held = uow.read("Task", task["id"])
        assert (held["meta"]["versionId"], _business_state(held)) == ("1", state.value)
        assert uow.events == []


def test_a_referral_withdrawn_by_its_sender_cannot_be_moved(kernel: FhirKernel) -> None:
    with kernel.engine.begin() as conn:
        uow = _unit(kernel, conn)
        _, task = _referral(uow, State.NEEDS_REVIEW)
        task = uow.replace({**task, "status": "cancelled"}, activity=None)
        with pytest.raises(Conflict, match="withdrawn by its sender"):
            move(uow, task, State.ELIGIBLE, NOW, None)
        assert uow.events == []
