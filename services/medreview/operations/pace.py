"""Changing a running taper's pace: pause, step back, resume; and the SOWS score that pauses it.

* ``POST /fhir/CarePlan/{id}/$pause``: ``reason`` (required), ``date``, ``intervalDays``, ``stepPercent``
  -> the paused CarePlan (re-planned more slowly when asked);
* ``POST /fhir/CarePlan/{id}/$step-back``: ``reason`` (required), ``date`` -> the CarePlan with a step back
  for the GP to review and approve;
* ``POST /fhir/CarePlan/{id}/$resume``: ``date`` -> the resumed CarePlan; the GP approves the next step.

A final SOWS Observation written through the REST API at or above the configured score pauses the patient's
running taper in the same transaction (the ``Observation`` write rule).
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import Connection

from services.medreview.fhir_mapping import policy_of
from services.medreview.operations.params import policy_of_params
from services.medreview.repository import repository
from services.medreview.workflow import (
    APPROVAL_LEAD_DAYS,
    on_withdrawal_score,
    pause_taper,
    resume_taper,
    slower,
    step_back,
)
from shared.fhir import BadRequest, FhirKernel, OperationCall, Parameters, RequestContext, UnitOfWork

__all__ = ["register"]


def _careplan(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
    return repository(uow).read(uow.conn, f"CarePlan/{call.resource_id}", uow.tenants)


def pause(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
    params = Parameters(call.body)
    why = params.text("reason")
    if not why:
        raise BadRequest("Parameter 'reason' is required (the patient's words, or what happened)")
    day = params.day("date")
    changed = any(params.value(n) is not None for n in ("intervalDays", "stepPercent"))
    careplan = _careplan(call, uow)
    policy = policy_of_params(params, slower(policy_of(careplan)[0])) if changed else None
    return pause_taper(uow, careplan, why=f"asked for: {why}", on=day or uow.now.date(), policy=policy)


def back(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
    params = Parameters(call.body)
    why = params.text("reason")
    if not why:
        raise BadRequest("Parameter 'reason' is required (the flare or withdrawal, in the patient's words)")
    day = params.day("date")
    return step_back(uow, _careplan(call, uow), why=why, on=day or uow.now.date())


def resume(call: OperationCall, uow: UnitOfWork, *, lead_days: int = APPROVAL_LEAD_DAYS) -> dict[str, Any]:
    day = Parameters(call.body).day("date")
    return resume_taper(uow, _careplan(call, uow), on=day or uow.now.date(), lead_days=lead_days)


def register(
    kernel: FhirKernel, *, withdrawal_pause_score: Decimal, lead_days: int = APPROVAL_LEAD_DAYS
) -> None:
    """Declare ``$pause``, ``$step-back``, ``$resume`` and the Observation write rule on ``kernel``."""

    def withdrawal_rule(
        conn: Connection, ctx: RequestContext, resource: dict[str, Any], interaction: str
    ) -> None:
        if interaction != "delete":
            on_withdrawal_score(UnitOfWork(kernel, conn, ctx), resource, withdrawal_pause_score)

    kernel.resource("Observation", on_write=withdrawal_rule)
    kernel.operation(
        "pause",
        pause,
        level="instance",
        resource_type="CarePlan",
        scope=("CarePlan", "u"),
        documentation="Pause a taper at the patient's request and re-plan it more slowly",
    )
    kernel.operation(
        "step-back",
        back,
        level="instance",
        resource_type="CarePlan",
        scope=("CarePlan", "u"),
        documentation="Go back to the previous step (a flare or withdrawal): the GP reviews and approves it",
    )
    kernel.operation(
        "resume",
        partial(resume, lead_days=lead_days),
        level="instance",
        resource_type="CarePlan",
        scope=("CarePlan", "u"),
        documentation="Resume a paused taper from today's dose; the GP approves the next step",
    )
