"""Proposing a taper and opening its safety gates.

* ``POST /fhir/Patient/{id}/$propose-taper``: the taper policy (``operations.params``) -> the draft CarePlan;
* ``POST /fhir/Patient/{id}/$record-mdt-review``: ``outcome`` (taper-agreed | taper-not-advised),
  ``summary``, ``date``, ``appointment`` -> the review's Task (a specialist or prescriber records it).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from services.medreview.operations.params import factor_table_of, patient_of_call, policy_of_params
from services.medreview.workflow import APPROVAL_LEAD_DAYS, inferred_pace, propose_taper, record_mdt_review
from shared.fhir import (
    BadRequest,
    FhirKernel,
    Forbidden,
    OperationCall,
    Parameters,
    UnitOfWork,
    parse_instant,
)

__all__ = ["REVIEWING_ROLES", "register"]

REVIEWING_ROLES = frozenset({"gp-system", "prescriber", "specialist"})
"""Who may record the MDT or specialist review that opens a taper's safety gates (not a project worker)."""


def propose(call: OperationCall, uow: UnitOfWork, *, lead_days: int = APPROVAL_LEAD_DAYS) -> dict[str, Any]:
    patient = patient_of_call(call, uow)
    params = Parameters(call.body)
    stated = params.value("longTermUse") is not None  # a clinician's word wins over the record
    policy = policy_of_params(params)
    table = factor_table_of(params)
    start = params.day("startDate")

    agreed = params.text("patientAgreement")
    if agreed is not None and not _is_datetime(agreed):
        raise BadRequest("Parameter 'patientAgreement' must be a dateTime (when the patient agreed)")

    day = start or uow.now.date()
    if stated:
        return propose_taper(uow, patient, policy, day, table, agreed=agreed, lead_days=lead_days)
    base, why = inferred_pace(uow, patient, day)
    chosen = policy_of_params(params, base)
    return propose_taper(uow, patient, chosen, day, table, pace=why, agreed=agreed, lead_days=lead_days)


def mdt_review(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
    patient = patient_of_call(call, uow)
    params = Parameters(call.body)
    outcome, summary = params.text("outcome"), params.text("summary")
    if not outcome or not summary:
        raise BadRequest("Parameters 'outcome' (taper-agreed | taper-not-advised) and 'summary' are required")
    appointment = params.value("appointment")
    reference = str(appointment.get("reference", "")) if isinstance(appointment, dict) else None
    if appointment is not None and not (reference or "").startswith("Appointment/"):
        raise BadRequest("Parameter 'appointment' must be a Reference to the Appointment of the review")
    if call.ctx.principal.role not in REVIEWING_ROLES:
        role = call.ctx.principal.role
        raise Forbidden(
            f"An MDT or specialist review is recorded by a specialist or a prescriber, not {role}"
        )
    day = params.day("date")
    table = factor_table_of(params)
    return record_mdt_review(
        uow,
        patient,
        outcome=outcome,
        summary=summary,
        on=day or uow.now.date(),
        appointment=reference,
        factor_table=table,
    )


def _is_datetime(text: str) -> bool:
    try:
        parse_instant(text)
    except ValueError:
        return False
    return True


def register(kernel: FhirKernel, *, lead_days: int = APPROVAL_LEAD_DAYS) -> None:
    kernel.operation(
        "propose-taper",
        partial(propose, lead_days=lead_days),
        level="instance",
        resource_type="Patient",
        scope=("CarePlan", "c"),
        documentation="Propose a taper plan (CarePlan, draft) for the GP's step-by-step approval",
    )
    kernel.operation(
        "record-mdt-review",
        mdt_review,
        level="instance",
        resource_type="Patient",
        scope=("Task", "c"),
        documentation="Record the MDT or specialist review that a taper past a safety gate needs",
    )
