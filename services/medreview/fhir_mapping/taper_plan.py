"""A taper plan as a FHIR R4 CarePlan, and back: policy, baseline and steps kept in the plan itself.

docs/EVENTS.md: the CarePlan has ``status`` draft until the GP approves a step, category medication
review, and one ``activity`` per step with ``reference`` to its proposed MedicationRequest and
``detail.scheduledPeriod.start`` the step's date (a hold changes no prescription, so it has no reference).
Carrying both ``reference`` and ``detail`` departs from R4's invariant cpl-3; the event contract asks for it.

What a re-plan needs (the policy, the baseline total OME, each step's reduction) rides in extensions under
``https://pain-review.example.org/fhir/StructureDefinition/``: ``taper-policy`` on the plan, ``taper-step`` on
each activity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.medreview.codes import CAREPLAN_CATEGORY, EXTENSION, MEDICATION_REVIEW, SNOMED, coding
from services.medreview.fhir_mapping.quantities import daily_ome, decimal_of, instant, number, quantity
from services.medreview.taper import StepBasis, TaperPlan, TaperPolicy, TaperStep

__all__ = [
    "POLICY_URL",
    "STEP_URL",
    "StepRecord",
    "policy_extension",
    "policy_of",
    "step_activity",
    "steps_of",
    "taper_careplan",
    "taper_category",
]

POLICY_URL = f"{EXTENSION}/taper-policy"
STEP_URL = f"{EXTENSION}/taper-step"
PENDING = frozenset({"not-started", "scheduled"})


def taper_category() -> dict[str, Any]:
    """Category medication review: the local code beside SNOMED CT 182836005 |Review of medication|."""
    return {
        "coding": [
            coding(CAREPLAN_CATEGORY, MEDICATION_REVIEW, "Medication review"),
            coding(SNOMED, "182836005", "Review of medication"),
        ],
        "text": "Medication review: opioid dose reduction",
    }


def _sub(url: str, **value: Any) -> dict[str, Any]:
    return {"url": url, **value}


def policy_extension(policy: TaperPolicy, baseline: Decimal) -> dict[str, Any]:
    """The plan's policy and baseline total OME (mg/day) as the ``taper-policy`` extension."""
    parts = [
        _sub("stepPercent", valueDecimal=number(policy.step_percent)),
        _sub("stepBasis", valueCode=policy.step_basis.value),
        _sub("intervalDays", valueInteger=policy.interval_days),
        _sub("slowStepFactor", valueDecimal=number(policy.slow_step_factor)),
        _sub("targetOme", valueQuantity=daily_ome(policy.target_mg_per_day)),
        _sub("maxMonthlyReductionPercent", valueDecimal=number(policy.max_monthly_reduction_percent)),
        _sub("baselineOme", valueQuantity=daily_ome(baseline)),
    ]
    if policy.slow_below_percent is not None:
        parts.append(_sub("slowBelowPercent", valueDecimal=number(policy.slow_below_percent)))
    parts += [_sub("order", valueString=key) for key in policy.order]
    return {"url": POLICY_URL, "extension": parts}


def _parts(node: Mapping[str, Any], url: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for ext in node.get("extension") or []:
        if ext.get("url") == url:
            for part in ext.get("extension") or []:
                found.setdefault(str(part.get("url")), []).append(part)
    return found


def policy_of(careplan: Mapping[str, Any]) -> tuple[TaperPolicy, Decimal]:
    """The policy and baseline total OME a taper CarePlan was planned with."""
    parts = _parts(careplan, POLICY_URL)

    def one(name: str, key: str) -> Any:
        return parts[name][0][key]

    slow = parts.get("slowBelowPercent")
    policy = TaperPolicy(
        step_percent=decimal_of(one("stepPercent", "valueDecimal")),
        step_basis=StepBasis(one("stepBasis", "valueCode")),
        interval_days=int(one("intervalDays", "valueInteger")),
        slow_below_percent=decimal_of(slow[0]["valueDecimal"]) if slow else None,
        slow_step_factor=decimal_of(one("slowStepFactor", "valueDecimal")),
        target_mg_per_day=decimal_of(one("targetOme", "valueQuantity")["value"]),
        max_monthly_reduction_percent=decimal_of(one("maxMonthlyReductionPercent", "valueDecimal")),
        order=tuple(str(p["valueString"]) for p in parts.get("order", [])),
    )
    return policy, decimal_of(one("baselineOme", "valueQuantity")["value"])


def step_activity(
    step: TaperStep, *, item: str, proposal: str | None, description: str, product: dict[str, Any]
) -> dict[str, Any]:
    """One step as a CarePlan activity: date, dose, reduction and resulting total; ``proposal`` its
    MedicationRequest (``None`` for a hold)."""
    dose = step.dose
    detail: dict[str, Any] = {
        "kind": "MedicationRequest",
        "status": "not-started",
        "scheduledPeriod": {"start": instant(step.date)},
        "productCodeableConcept": product,
        "description": description,
    }
    if dose.unit == "mg/day":
        detail["dailyAmount"] = quantity(dose.daily_dose, "mg")
    activity: dict[str, Any] = {
        "extension": [
            {
                "url": STEP_URL,
                "extension": [
                    _sub("number", valueInteger=step.number),
                    _sub("action", valueCode=step.action.value),
                    _sub("regimenItem", valueReference={"reference": item}),
                    _sub("dailyDose", valueQuantity=quantity(dose.daily_dose, dose.unit)),
                    _sub("reduction", valueQuantity=daily_ome(step.reduction_mg_per_day)),
                    _sub("totalOme", valueQuantity=daily_ome(step.total_ome_mg_per_day)),
                ],
            }
        ],
        "detail": detail,
    }
    if proposal:
        activity["reference"] = {"reference": proposal}
    return activity


def taper_careplan(
    plan: TaperPlan,
    *,
    patient: str,
    created: datetime,
    activities: Sequence[dict[str, Any]],
    description: str,
) -> dict[str, Any]:
    """The taper CarePlan (``status`` draft, ``intent`` plan) holding ``activities``."""
    careplan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "extension": [policy_extension(plan.policy, plan.baseline_ome_mg_per_day)],
        "status": "draft",
        "intent": "plan",
        "category": [taper_category()],
        "title": "Opioid dose reduction (taper) plan",
        "description": description,
        "subject": {"reference": patient},
        "period": {"start": instant(plan.start_date)},
        "created": instant(created),
        "activity": list(activities),
    }
    if plan.blocked_reason:
        careplan["note"] = [{"text": f"The plan stops short of its target: {plan.blocked_reason}."}]
    return careplan


@dataclass(frozen=True)
class StepRecord:
    """A step read back from its CarePlan activity (``index`` in ``CarePlan.activity``)."""

    index: int
    number: int
    date: date
    action: str
    item: str
    reduction: Decimal
    total: Decimal
    status: str
    proposal: str | None
    outcome: str | None

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    @property
    def approved(self) -> bool:
        return self.status in ("in-progress", "completed") and self.action != "hold"


def steps_of(careplan: Mapping[str, Any]) -> list[StepRecord]:
    """Every step of a taper CarePlan, in order."""
    steps = []
    for index, activity in enumerate(careplan.get("activity") or []):
        parts = _parts(activity, STEP_URL)
        if not parts:
            continue
        detail = activity.get("detail") or {}
        outcomes = activity.get("outcomeReference") or []
        steps.append(
            StepRecord(
                index=index,
                number=int(parts["number"][0]["valueInteger"]),
                date=date.fromisoformat(str(detail["scheduledPeriod"]["start"])[:10]),
                action=str(parts["action"][0]["valueCode"]),
                item=str(parts["regimenItem"][0]["valueReference"]["reference"]),
                reduction=decimal_of(parts["reduction"][0]["valueQuantity"]["value"]),
                total=decimal_of(parts["totalOme"][0]["valueQuantity"]["value"]),
                status=str(detail.get("status")),
                proposal=(activity.get("reference") or {}).get("reference"),
                outcome=outcomes[0].get("reference") if outcomes else None,
            )
        )
    return steps
