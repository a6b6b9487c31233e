"""The workflow's Task operations (``POST /fhir/Task/{id}/$<name>``), each a move of the referral:

$transition      status=<state> (a review's decision, declined, no-response)
$invite          the practice's letter -> Communication, patient.invited
$record-consent  consented=true|false -> Consent
$enrol           start, end -> EpisodeOfCare, patient.enrolled
$discharge       date, note -> EpisodeOfCare finished, patient.discharged
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.referral.domain.workflow import State
from services.referral.fhir_mapping import owner_practice, parameters
from services.referral.operations.invitations import check_template, details_of
from services.referral.operations.transitions import discharge, enrol, invite, move, record_consent
from services.referral.settings import ReferralSettings
from shared.fhir import (
    BadRequest,
    FhirKernel,
    OperationCall,
    Parameters,
    UnitHandler,
    UnitOfWork,
    now_instant,
)

__all__ = ["register"]

TaskAction = Callable[[UnitOfWork, dict[str, Any], Parameters, datetime], dict[str, Any]]


def register(kernel: FhirKernel, settings: ReferralSettings) -> None:
    def task_operation(action: TaskAction) -> UnitHandler:
        def handler(call: OperationCall, unit: UnitOfWork) -> dict[str, Any]:
            values = parameters(call)
            task = unit.read("Task", str(call.resource_id))
            unit.patient = task["for"]["reference"]
            uow = unit.owned_by(owner_practice(task))
            result = action(uow, task, values, now_instant())
            uow.sign("UPDATE")
            return result

        return handler

    def do_transition(
        uow: UnitOfWork, task: dict[str, Any], values: Parameters, now: datetime
    ) -> dict[str, Any]:
        try:
            target = State(str(values.text("status")))
        except ValueError as exc:
            allowed = ", ".join(s.value for s in State)
            raise BadRequest(f"status must be one of {allowed}", issue_code="required") from exc
        return move(uow, task, target, now, values.text("note"))

    def do_invite(uow: UnitOfWork, task: dict[str, Any], values: Parameters, now: datetime) -> dict[str, Any]:
        overrides = details_of(values)
        check_template("", overrides)
        return invite(uow, task, overrides, now)

    def do_consent(
        uow: UnitOfWork, task: dict[str, Any], values: Parameters, now: datetime
    ) -> dict[str, Any]:
        agreed = values.boolean("consented")
        if agreed is None:
            raise BadRequest("consented (boolean) is required", issue_code="required")
        on = values.day("date") or now.date()
        return record_consent(uow, task, agreed, on, now)

    def do_enrol(uow: UnitOfWork, task: dict[str, Any], values: Parameters, now: datetime) -> dict[str, Any]:
        start = values.day("start") or now.date()
        return enrol(uow, task, start, values.day("end"), settings.enrolment_months, now)

    def do_discharge(
        uow: UnitOfWork, task: dict[str, Any], values: Parameters, now: datetime
    ) -> dict[str, Any]:
        on = values.day("date") or now.date()
        return discharge(uow, task, on, values.text("note"), now)

    for name, action, doc in (
        ("transition", do_transition, "Move a referral: status=eligible|ineligible|declined|no-response"),
        ("invite", do_invite, "Send the practice's invitation letter (a Communication); eligible -> invited"),
        (
            "record-consent",
            do_consent,
            "consented=true|false (date): a Consent; invited -> consented|declined",
        ),
        ("enrol", do_enrol, "start, end (up to 2 years): an EpisodeOfCare; consented -> enrolled"),
        ("discharge", do_discharge, "date, note: the EpisodeOfCare finished; enrolled -> discharged"),
    ):
        kernel.operation(
            name,
            task_operation(action),
            level="instance",
            resource_type="Task",
            scope=("Task", "u"),
            documentation=doc,
            batched=True,
        )
