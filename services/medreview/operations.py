"""medreview's FHIR operations and write hooks: HTTP in, a handler in one transaction, FHIR out.

* ``POST /fhir/$medication-review``: a Bundle of one patient's MedicationRequest / MedicationStatement
  (+ Medication), or Parameters ``bundle`` | ``patient``, ``factorTable`` (also a query parameter) ->
  Parameters ``totalDailyOME``, ``complete``, ``factorTable``, ``medication`` and ``issue`` parts, and
  ``observation`` when the review was stored (it is when the resources name one patient);
* ``POST /fhir/Patient/{id}/$medication-review``: Parameters (``factorTable``; an empty Parameters for the
  default) -> the same, from the stored list;
* ``POST /fhir/Patient/{id}/$propose-taper``: the taper policy (``operation_params``) -> the draft CarePlan;
* ``POST /fhir/Task/{id}/$decide``: ``decision`` (approved | declined), ``reason`` -> the closed Task;
* ``POST /fhir/CarePlan/{id}/$pause``: ``reason`` (required), ``date``, ``intervalDays``, ``stepPercent``
  -> the paused CarePlan;
* ``POST /fhir/CarePlan/{id}/$resume``: ``date`` -> the resumed CarePlan.

Every write operation honours ``X-Request-Id`` (a repeat is a 409) and is audited in its own transaction.
A final SOWS Observation written through the REST API at or above the configured score pauses the patient's
running taper in the same transaction (``Observation`` write hook).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from services.medreview.fhir_mapping import Decision, Outcome, policy_of
from services.medreview.handlers import (
    APPROVAL_LEAD_DAYS,
    decide_step,
    inferred_pace,
    on_withdrawal_score,
    pause_taper,
    propose_taper,
    record_mdt_review,
    resume_taper,
    review_bundle_resources,
    review_patient,
    slower,
    step_back,
)
from services.medreview.medication_list import resources_from_bundle
from services.medreview.operation_params import factor_table_of, policy_of_params
from services.medreview.repository import repository
from shared.fhir import (
    BadRequest,
    FhirKernel,
    Forbidden,
    OperationCall,
    Parameters,
    RequestContext,
    UnitOfWork,
    validate_resource,
)

__all__ = ["register_operations"]

PRESCRIBING_ROLES = frozenset({"gp-system", "prescriber"})
REVIEWING_ROLES = frozenset({"gp-system", "prescriber", "specialist"})
"""Who may record the MDT or specialist review that opens a taper's safety gates (not a project worker)."""
"""Who may approve or decline a taper step: the patient's practice's GP system or a prescriber there.
Project workers and specialists propose; they never decide (a refusal is audited with who tried)."""
_DECISIONS = {"approved": Decision.APPROVED, "approve": Decision.APPROVED}
_DECISIONS |= {"declined": Decision.DECLINED, "decline": Decision.DECLINED, "rejected": Decision.DECLINED}


def _patient(call: OperationCall, uow: UnitOfWork) -> str:
    patient = f"Patient/{call.resource_id}"
    uow.patient = patient
    return patient


def register_operations(
    kernel: FhirKernel,
    *,
    withdrawal_pause_score: Decimal,
    approval_lead_days: int = APPROVAL_LEAD_DAYS,
) -> None:
    """Declare the operations and the Observation write hook on ``kernel`` (whose clock they act on)."""

    def review_stored(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        patient = _patient(call, uow)
        table = factor_table_of(Parameters(call.body), call.request.query_params.get("factorTable"))
        return review_patient(uow, patient, table)

    def review_posted(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        query_table = call.request.query_params.get("factorTable")
        body = call.body if isinstance(call.body, dict) else {}
        bundle: dict[str, Any] | None
        if body.get("resourceType") == "Bundle":
            bundle, params = validate_bundle(body), Parameters(None)
        else:
            params = Parameters(call.body)
            bundle = params.resource("bundle")
        table = factor_table_of(params, query_table)
        patient_ref = params.value("patient")
        patient = _reference(patient_ref) if patient_ref is not None else None
        if bundle is None:
            if patient is None:
                raise BadRequest("Send a Bundle, or Parameters with a 'bundle' or a 'patient'")
            uow.patient = patient
            return review_patient(uow, patient, table)
        resources = resources_from_bundle(validate_bundle(bundle))
        uow.patient = patient
        return review_bundle_resources(uow, resources, table, patient)

    def propose(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        patient = _patient(call, uow)
        params = Parameters(call.body)
        stated = params.value("longTermUse") is not None  # a clinician's word wins over the record
        policy = policy_of_params(params)
        table = factor_table_of(params)
        start = params.day("startDate")

        agreed = params.text("patientAgreement")
        if agreed is not None and not _is_datetime(agreed):
            raise BadRequest("Parameter 'patientAgreement' must be a dateTime (when the patient agreed)")

        def work(s: UnitOfWork) -> dict[str, Any]:
            day = start or s.now.date()
            if stated:
                return propose_taper(
                    s, patient, policy, day, table, agreed=agreed, lead_days=approval_lead_days
                )
            base, why = inferred_pace(s, patient, day)
            chosen = policy_of_params(params, base)
            return propose_taper(
                s, patient, chosen, day, table, pace=why, agreed=agreed, lead_days=approval_lead_days
            )

        return work(uow)

    def decide(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        params = Parameters(call.body)
        word = (params.text("decision") or "").lower()
        if word not in _DECISIONS:
            raise BadRequest("Parameter 'decision' must be 'approved' or 'declined'")
        outcome = Outcome(_DECISIONS[word], params.text("reason"))
        if outcome.decision is Decision.DECLINED and not outcome.reason:
            raise BadRequest("A decline needs a 'reason' (it is recorded on the plan)")
        principal = call.ctx.principal
        if principal.role not in PRESCRIBING_ROLES:
            raise Forbidden(
                f"A taper step is approved or declined by a prescriber at the patient's practice; "
                f"the role {principal.role} may propose, not decide"
            )

        def work(s: UnitOfWork) -> dict[str, Any]:
            reference = f"Task/{call.resource_id}"
            task = repository(s).read(s.conn, reference, s.tenants)
            uow.patient = str((task.get("for") or {}).get("reference") or "") or None
            if repository(s).practice_of(s.conn, reference, s.tenants) != principal.practice:
                raise Forbidden("Only a prescriber at the patient's own practice may decide this step")
            return decide_step(s, task, outcome, lead_days=approval_lead_days)

        return work(uow)

    def mdt_review(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        patient = _patient(call, uow)
        params = Parameters(call.body)
        outcome, summary = params.text("outcome"), params.text("summary")
        if not outcome or not summary:
            raise BadRequest(
                "Parameters 'outcome' (taper-agreed | taper-not-advised) and 'summary' are required"
            )
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
        s = uow
        return record_mdt_review(
            s,
            patient,
            outcome=outcome,
            summary=summary,
            on=day or s.now.date(),
            appointment=reference,
            factor_table=table,
        )

    def pause(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        params = Parameters(call.body)
        why = params.text("reason")
        if not why:
            raise BadRequest("Parameter 'reason' is required (the patient's words, or what happened)")
        day = params.day("date")
        changed = any(params.value(n) is not None for n in ("intervalDays", "stepPercent"))

        def work(s: UnitOfWork) -> dict[str, Any]:
            careplan = repository(s).read(s.conn, f"CarePlan/{call.resource_id}", s.tenants)
            policy = policy_of_params(params, slower(policy_of(careplan)[0])) if changed else None
            return pause_taper(s, careplan, why=f"asked for: {why}", on=day or s.now.date(), policy=policy)

        return work(uow)

    def back(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        params = Parameters(call.body)
        why = params.text("reason")
        if not why:
            raise BadRequest(
                "Parameter 'reason' is required (the flare or withdrawal, in the patient's words)"
            )
        day = params.day("date")

        def work(s: UnitOfWork) -> dict[str, Any]:
            careplan = repository(s).read(s.conn, f"CarePlan/{call.resource_id}", s.tenants)
            return step_back(s, careplan, why=why, on=day or s.now.date())

        return work(uow)

    def resume(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        day = Parameters(call.body).day("date")

        def work(s: UnitOfWork) -> dict[str, Any]:
            careplan = repository(s).read(s.conn, f"CarePlan/{call.resource_id}", s.tenants)
            return resume_taper(s, careplan, on=day or s.now.date(), lead_days=approval_lead_days)

        return work(uow)

    def withdrawal_hook(
        conn: Connection, ctx: RequestContext, resource: dict[str, Any], interaction: str
    ) -> None:
        if interaction != "delete":
            on_withdrawal_score(UnitOfWork(kernel, conn, ctx), resource, withdrawal_pause_score)

    kernel.resource("Observation", on_write=withdrawal_hook)
    kernel.operation(
        "medication-review",
        review_stored,
        level="instance",
        resource_type="Patient",
        scope=("Observation", "c"),
        documentation="Review a patient's stored medicines: total and per-opioid OME, risk flags; stored",
    )
    kernel.operation(
        "medication-review",
        review_posted,
        level="system",
        scope=("Observation", "c"),
        documentation="OME (mg/day) and risk flags of one patient's medicines (a Bundle) or stored list",
    )
    kernel.operation(
        "propose-taper",
        propose,
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
    kernel.operation(
        "decide",
        decide,
        level="instance",
        resource_type="Task",
        scope=("Task", "u"),
        documentation="The GP's approval or decline of a taper step (as gp.task-completed does)",
    )
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
        resume,
        level="instance",
        resource_type="CarePlan",
        scope=("CarePlan", "u"),
        documentation="Resume a paused taper from today's dose; the GP approves the next step",
    )


def validate_bundle(bundle: Any) -> dict[str, Any]:
    validate_resource(bundle, "Bundle")
    found: dict[str, Any] = bundle
    return found


def _reference(value: Any) -> str:
    text = str(value.get("reference", "")) if isinstance(value, dict) else str(value)
    text = text if text.startswith("Patient/") else f"Patient/{text}"
    if text == "Patient/" or "/" in text.removeprefix("Patient/"):
        raise BadRequest("Parameter 'patient' must be a Patient reference or id")
    return text


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
