"""Reading the ``Parameters`` that medreview's operations take (400 on anything malformed).

``$propose-taper`` takes the taper policy: ``longTermUse`` (boolean: start from 10% a month instead of 10%
every two weeks), ``stepPercent`` (decimal), ``stepBasis`` (code ``starting`` | ``current``), ``intervalDays``
(integer), ``targetDailyOME`` (Quantity mg/d or decimal; 0 = stop), ``maxMonthlyReductionPercent``,
``slowBelowPercent``, ``slowStepFactor`` (decimals), ``order`` (string, repeating: which opioid to reduce
first, by reference or ingredient), ``startDate`` (date) and ``factorTable`` (code).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from services.medreview.taper import StepBasis, TaperPolicy
from shared.fhir import BadRequest, validate_resource
from shared.terminology import DEFAULT_OME_FACTOR_TABLE, OME_FACTOR_TABLES

__all__ = ["Params", "factor_table_of", "parameters_of", "policy_of_params"]

_VALUE_KEYS = (
    "valueBoolean",
    "valueCode",
    "valueString",
    "valueInteger",
    "valuePositiveInt",
    "valueUnsignedInt",
    "valueDecimal",
    "valueDate",
    "valueDateTime",
    "valueQuantity",
    "valueReference",
    "valueCoding",
)


class Params:
    """A ``Parameters`` body by name."""

    def __init__(self, body: Any) -> None:
        self.by_name: dict[str, list[dict[str, Any]]] = {}
        if body is None:
            return
        validate_resource(body, "Parameters")
        for parameter in body.get("parameter") or []:
            self.by_name.setdefault(str(parameter.get("name")), []).append(parameter)

    def value(self, name: str) -> Any:
        """The value of the first parameter ``name`` (``None`` when absent)."""
        found = self.by_name.get(name)
        if not found:
            return None
        return next((found[0][k] for k in _VALUE_KEYS if k in found[0]), found[0].get("resource"))

    def values(self, name: str) -> list[Any]:
        return [next((p[k] for k in _VALUE_KEYS if k in p), None) for p in self.by_name.get(name, [])]

    def resource(self, name: str) -> dict[str, Any] | None:
        found = self.by_name.get(name)
        resource = found[0].get("resource") if found else None
        return resource if isinstance(resource, dict) else None

    def text(self, name: str) -> str | None:
        value = self.value(name)
        if isinstance(value, dict):  # Coding
            value = value.get("code")
        return str(value) if value is not None else None

    def decimal(self, name: str) -> Decimal | None:
        value = self.value(name)
        if isinstance(value, dict):  # Quantity
            value = value.get("value")
        if value is None:
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise BadRequest(f"Parameter '{name}' must be a number") from exc
        if not number.is_finite():  # 'NaN', 'Infinity' parse, then fail every comparison (a 500)
            raise BadRequest(f"Parameter '{name}' must be a finite number")
        return number

    def day(self, name: str) -> date | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError as exc:
            raise BadRequest(f"Parameter '{name}' must be a date (YYYY-MM-DD)") from exc


def parameters_of(body: Any) -> Params:
    """A Parameters body (400 when the body is not one)."""
    return Params(body)


def factor_table_of(params: Params, query: str | None = None) -> str:
    """The ``factorTable`` parameter (or query parameter), default UK Opioids Aware; 400 when unknown."""
    table = params.text("factorTable") or query or DEFAULT_OME_FACTOR_TABLE
    if table not in OME_FACTOR_TABLES:
        known = ", ".join(sorted(OME_FACTOR_TABLES))
        raise BadRequest(f"Unknown factorTable '{table}'; known: {known}")
    return table


def policy_of_params(params: Params, base: TaperPolicy | None = None) -> TaperPolicy:
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
