"""Reading the ``Parameters`` that medreview's operations take (400 on anything malformed).

``$propose-taper`` takes the taper policy: ``longTermUse`` (boolean: start from 10% a month instead of 10%
every two weeks), ``stepPercent`` (decimal), ``stepBasis`` (code ``starting`` | ``current``), ``intervalDays``
(integer), ``targetDailyOME`` (Quantity mg/d or decimal; 0 = stop), ``maxMonthlyReductionPercent``,
``slowBelowPercent``, ``slowStepFactor`` (decimals), ``order`` (string, repeating: which opioid to reduce
first, by reference or ingredient), ``startDate`` (date) and ``factorTable`` (code).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from services.medreview.domain.taper import StepBasis, TaperPolicy
from shared.fhir import BadRequest, OperationCall, Parameters, UnitOfWork
from shared.terminology import DEFAULT_OME_FACTOR_TABLE, OME_FACTOR_TABLES

__all__ = ["factor_table_of", "parameters_of", "patient_of_call", "policy_of_params"]


def patient_of_call(call: OperationCall, uow: UnitOfWork) -> str:
    """The Patient an instance operation is on, named in its AuditEvent (set before anything can fail)."""
    patient = f"Patient/{call.resource_id}"
    uow.patient = patient
    return patient


def parameters_of(body: Any) -> Parameters:
    """A Parameters body (400 when the body is not one; see ``shared.fhir.Parameters``)."""
    return Parameters(body)


def factor_table_of(params: Parameters, query: str | None = None) -> str:
    """The ``factorTable`` parameter (or query parameter), default UK Opioids Aware; 400 when unknown."""
    table = params.text("factorTable") or query or DEFAULT_OME_FACTOR_TABLE
    if table not in OME_FACTOR_TABLES:
        known = ", ".join(sorted(OME_FACTOR_TABLES))
        raise BadRequest(f"Unknown factorTable '{table}'; known: {known}")
    return table


def policy_of_params(params: Parameters, base: TaperPolicy | None = None) -> TaperPolicy:
    """The taper policy the parameters ask for, over ``base`` (default: UK, or long-term use)."""
    if base is None:
        long_term = params.value("longTermUse") is True
        base = TaperPolicy.long_term_use() if long_term else TaperPolicy.uk_default()
    changes: dict[str, Any] = {}
    for name, field in (
        ("stepPercent", "step_percent"),
        ("maxMonthlyReductionPercent", "max_monthly_reduction_percent"),
        ("slowBelowPercent", "slow_below_percent"),
        ("slowStepFactor", "slow_step_factor"),
        ("targetDailyOME", "target_mg_per_day"),
    ):
        value = params.decimal(name)
        if value is not None:
            changes[field] = value
    interval = params.decimal("intervalDays")
    if interval is not None:
        if interval != interval.to_integral_value():
            raise BadRequest("intervalDays must be a whole number of days")
        changes["interval_days"] = int(interval)
    basis = params.text("stepBasis")
    if basis is not None:
        try:
            changes["step_basis"] = StepBasis(basis)
        except ValueError as exc:
            raise BadRequest("stepBasis must be 'starting' or 'current'") from exc
    order = [str(v) for v in params.values("order") if v]
    if order:
        changes["order"] = tuple(order)
    try:
        policy = replace(base, **changes)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    if policy.target_mg_per_day < 0 or (policy.slow_step_factor <= 0 or policy.slow_step_factor > 1):
        raise BadRequest("targetDailyOME must be 0 or more and slowStepFactor between 0 and 1")
    if policy.step_percent > 100 or policy.max_monthly_reduction_percent > 100:
        raise BadRequest("stepPercent and maxMonthlyReductionPercent are percentages (at most 100)")
    return policy
