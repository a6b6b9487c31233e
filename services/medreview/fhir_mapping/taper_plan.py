"""A taper plan as FHIR R4: a CarePlan of steps, each reduction or stop a proposed MedicationRequest.

docs/EVENTS.md: the CarePlan has ``status`` draft until the GP approves a step, category medication review,
and one ``activity`` per step. A reduction or a stop is ``activity.reference`` to its MedicationRequest
(``intent`` proposal) and nothing else, as R4's invariant cpl-3 asks ("Provide a reference or detail, not
both"); everything about the step is on that MedicationRequest:

* the date: ``dispenseRequest.validityPeriod.start`` (and the dosage's ``timing.repeat.boundsPeriod.start``);
* the dose: ``medicationCodeableConcept``, ``dosageInstruction`` (``doNotPerform`` for a stop);
* the step: ``identifier`` ``<CarePlan id>-step-<n>`` (system ``.../Id/taper-step``) and the ``taper-step``
  extension (number, action, regimen item, daily dose, reduction, resulting total OME);
* the status: ``draft`` while proposed, ``completed`` once the GP's order exists (the order is the
  activity's ``outcomeReference``), ``cancelled`` with ``statusReason`` (``taper-step-status-reason``
  ``declined`` with the GP's words, or ``withdrawn``) otherwise.

A hold changes no prescription and has no MedicationRequest: its activity is a ``detail`` (status, date in
``scheduledPeriod.start``, product, daily amount) with the ``taper-step`` extension. What happened to a
step is also told in its activity's ``progress`` notes.

What a re-plan needs (the policy, the baseline total OME) rides in the ``taper-policy`` extension on the
plan; extensions are under ``https://pain-review.example.org/fhir/StructureDefinition/``. Taper events carry
:func:`taper_bundle`: the CarePlan and its steps' MedicationRequests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.medreview.domain.taper import StepBasis, TaperPlan, TaperPolicy, TaperStep
from services.medreview.fhir_mapping.codes import (
    CAREPLAN_CATEGORY,
    EXTENSION,
    MEDICATION_REVIEW,
    SNOMED,
    STEP_ID_SYSTEM,
    STEP_REASON_DISPLAY,
    STEP_STATUS_REASON,
    coding,
)
from services.medreview.fhir_mapping.quantities import daily_ome, decimal_of, instant, number, quantity
from shared.contracts.taper import step_status, taper_parts

__all__ = [
    "POLICY_URL",
    "STEP_URL",
    "StepRecord",
    "conformant",
    "moved",
    "moved_activity",
    "order_marks",
    "policy_extension",
    "policy_of",
    "step_activity",
    "step_extension",
    "step_group",
    "step_marks",
    "step_orders_of",
    "step_reason",
    "step_references",
    "steps_of",
    "taper_bundle",
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


def step_extension(step: TaperStep, *, item: str, orders: Sequence[str] = ()) -> dict[str, Any]:
    """The ``taper-step`` extension: the step's number, action, the regimen item it changes, its daily dose,
    the reduction and the total OME (mg/day) it leads to; ``orders``: the step's other proposed
    MedicationRequests (one per further strength), as ``order`` parts."""
    dose = step.dose
    return {
        "url": STEP_URL,
        "extension": [
            _sub("number", valueInteger=step.number),
            _sub("action", valueCode=step.action.value),
            _sub("regimenItem", valueReference={"reference": item}),
            _sub("dailyDose", valueQuantity=quantity(dose.daily_dose, dose.unit)),
            _sub("reduction", valueQuantity=daily_ome(step.reduction_mg_per_day)),
            _sub("totalOme", valueQuantity=daily_ome(step.total_ome_mg_per_day)),
            *(_sub("order", valueReference={"reference": ref}) for ref in orders),
        ],
    }


def step_group(number: int, careplan: str) -> dict[str, Any]:
    """The ``groupIdentifier`` every proposed MedicationRequest (and order) of step ``number`` shares."""
    return {"system": STEP_ID_SYSTEM, "value": f"{careplan.removeprefix('CarePlan/')}-step-{number}"}


def step_marks(step: TaperStep, *, item: str, careplan: str, orders: Sequence[str] = ()) -> dict[str, Any]:
    """What makes a proposed MedicationRequest a step of ``careplan`` (``CarePlan/<id>``): its identifier
    (``<id>-step-<n>``), the step's ``groupIdentifier`` and the ``taper-step`` extension (naming the step's
    other ``orders``)."""
    group = step_group(step.number, careplan)
    return {
        "identifier": [dict(group)],
        "groupIdentifier": group,
        "extension": [step_extension(step, item=item, orders=orders)],
    }


def order_marks(number: int, position: int, careplan: str) -> dict[str, Any]:
    """What makes a proposed MedicationRequest a further order (``position`` 2, 3...) of step ``number``: its
    identifier (``<id>-step-<n>-order-<k>``) and the step's ``groupIdentifier``."""
    group = step_group(number, careplan)
    return {
        "identifier": [{"system": STEP_ID_SYSTEM, "value": f"{group['value']}-order-{position}"}],
        "groupIdentifier": group,
    }


def step_orders_of(request: Mapping[str, Any]) -> list[str]:
    """The step's other proposed MedicationRequests named on its first (``taper-step`` ``order`` parts)."""
    return [str(p["valueReference"]["reference"]) for p in _parts(request, STEP_URL).get("order", [])]


def step_activity(
    step: TaperStep, *, item: str, proposal: str | None, description: str, product: dict[str, Any]
) -> dict[str, Any]:
    """One step as a CarePlan activity: a reduction or stop is ``reference`` to its proposed
    MedicationRequest (``proposal``) and nothing else (cpl-3); a hold (``proposal`` ``None``) changes no
    prescription and is a ``detail`` (date, product, daily amount) with the ``taper-step`` extension."""
    if proposal:
        return {"reference": {"reference": proposal, "display": description}}
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
    return {"extension": [step_extension(step, item=item)], "detail": detail}


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
    """A step read back from its CarePlan activity (``index`` in ``CarePlan.activity``) and, unless it is a
    hold, its proposed MedicationRequest (``proposal``), whose status gives the step's: ``not-started``
    (draft), ``completed`` (ordered), ``cancelled`` (``reason`` why)."""

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
    description: str = ""
    reason: str | None = None
    orders: tuple[str, ...] = ()
    """The step's other proposed MedicationRequests (one per further strength), after ``proposal``."""
    outcomes: tuple[str, ...] = ()
    """Every order the step became (``outcome`` is the first)."""

    @property
    def proposals(self) -> tuple[str, ...]:
        """Every proposed MedicationRequest of the step: ``proposal``, then ``orders``."""
        return (self.proposal, *self.orders) if self.proposal else ()

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    @property
    def approved(self) -> bool:
        return self.status in ("in-progress", "completed") and self.action != "hold"


def step_reason(code: str, text: str) -> dict[str, Any]:
    """Why a step was cancelled: ``taper-step-status-reason`` ``declined`` or ``withdrawn``, and the words."""
    return {"coding": [coding(STEP_STATUS_REASON, code, STEP_REASON_DISPLAY.get(code))], "text": text}


def _reference(activity: Mapping[str, Any]) -> str | None:
    ref = (activity.get("reference") or {}).get("reference")
    return str(ref) if ref else None


def step_references(careplan: Mapping[str, Any]) -> list[str]:
    """The MedicationRequests a taper CarePlan's activities refer to (its steps' proposals), in order."""
    found = [_reference(a) for a in careplan.get("activity") or []]
    return list(dict.fromkeys(ref for ref in found if ref))


def taper_bundle(careplan: Mapping[str, Any], requests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A taper event's data (docs/EVENTS.md): a collection Bundle of the CarePlan, then the MedicationRequest
    of each step it refers to, in the plan's order."""
    refs = [
        ref
        for first in step_references(careplan)
        if first in requests
        for ref in (first, *step_orders_of(requests[first]))
    ]
    resources = [careplan, *(requests[ref] for ref in dict.fromkeys(refs) if ref in requests)]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": dict(r)} for r in resources],
    }


def _request_date(request: Mapping[str, Any]) -> str | None:
    start = ((request.get("dispenseRequest") or {}).get("validityPeriod") or {}).get("start")
    for dosage in request.get("dosageInstruction") or []:
        bounds = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}
        start = start or bounds.get("start")
    return str(start) if start else None


def _later(text: Any, days: int) -> Any:
    if not isinstance(text, str) or len(text) < 10:
        return text
    return (date.fromisoformat(text[:10]) + timedelta(days=days)).isoformat() + text[10:]


def moved(request: Mapping[str, Any], days: int) -> dict[str, Any]:
    """A step's proposed MedicationRequest ``days`` later: its validity start and its dosages' start (a late
    approval moves the step to the day it was approved, and every later step as far)."""
    found = dict(request)
    dispense = dict(found.get("dispenseRequest") or {})
    if "validityPeriod" in dispense:
        period = dict(dispense["validityPeriod"])
        period["start"] = _later(period.get("start"), days)
        dispense["validityPeriod"] = period
        found["dispenseRequest"] = dispense
    dosages = []
    for dosage in found.get("dosageInstruction") or []:
        bounds = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
        if bounds:
            repeat = {
                **dosage["timing"]["repeat"],
                "boundsPeriod": {**bounds, "start": _later(bounds.get("start"), days)},
            }
            dosage = {**dosage, "timing": {**dosage["timing"], "repeat": repeat}}
        dosages.append(dosage)
    if dosages:
        found["dosageInstruction"] = dosages
    return found


def moved_activity(activity: Mapping[str, Any], days: int) -> dict[str, Any]:
    """A hold's activity ``days`` later (its ``detail.scheduledPeriod.start``)."""
    found = dict(activity)
    detail = dict(found.get("detail") or {})
    if "scheduledPeriod" in detail:
        detail["scheduledPeriod"] = {
            **detail["scheduledPeriod"],
            "start": _later(detail["scheduledPeriod"].get("start"), days),
        }
        found["detail"] = detail
    return found


def _text(concept: Any) -> str | None:
    return str(concept["text"]) if isinstance(concept, Mapping) and concept.get("text") else None


def steps_of(
    taper: Mapping[str, Any], requests: Mapping[str, Mapping[str, Any]] | None = None
) -> list[StepRecord]:
    """Every step of a taper CarePlan, in order. ``taper`` is the CarePlan, with its steps' MedicationRequests
    in ``requests`` (by reference), or a taper Bundle holding both. A plan stored before cpl-3 was kept
    (reference and detail on one activity, the step extension on the activity) reads the same."""
    careplan, found = taper_parts(taper)
    found = {**found, **(requests or {})}
    steps = []
    for index, activity in enumerate(careplan.get("activity") or []):
        proposal = _reference(activity)
        request = found.get(proposal) if proposal else None
        if proposal and request is None:
            raise ValueError(f"{proposal}: a taper step is read from its MedicationRequest, not given here")
        parts = (_parts(request, STEP_URL) if request else {}) or _parts(activity, STEP_URL)
        if not parts:
            continue
        detail = activity.get("detail") or {}
        if request is not None:
            day = _request_date(request) or (detail.get("scheduledPeriod") or {}).get("start")
            status = step_status(request)
            notes = [str(n["text"]) for n in request.get("note") or [] if n.get("text")]
            description = notes[0] if notes else str(detail.get("description", ""))
            reason = _text(request.get("statusReason"))
        else:
            day = (detail.get("scheduledPeriod") or {}).get("start")
            status = str(detail.get("status"))
            description = str(detail.get("description", ""))
            reason = _text(detail.get("statusReason"))
        outcomes = activity.get("outcomeReference") or []
        steps.append(
            StepRecord(
                index=index,
                number=int(parts["number"][0]["valueInteger"]),
                date=date.fromisoformat(str(day)[:10]),
                action=str(parts["action"][0]["valueCode"]),
                item=str(parts["regimenItem"][0]["valueReference"]["reference"]),
                reduction=decimal_of(parts["reduction"][0]["valueQuantity"]["value"]),
                total=decimal_of(parts["totalOme"][0]["valueQuantity"]["value"]),
                status=status,
                proposal=proposal,
                outcome=outcomes[0].get("reference") if outcomes else None,
                description=description,
                reason=reason,
                orders=tuple(str(o["valueReference"]["reference"]) for o in parts.get("order", [])),
                outcomes=tuple(str(o["reference"]) for o in outcomes if o.get("reference")),
            )
        )
    return steps


def conformant(
    careplan: Mapping[str, Any], requests: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A plan stored before cpl-3 was kept, brought into the current shape: each activity with both
    ``reference`` and ``detail`` keeps only the reference (its outcome and progress too), and its
    MedicationRequest gets the step's identifier and extension. The plan, and the MedicationRequests changed.
    """
    plan = dict(careplan)
    changed = []
    activities = []
    for activity in careplan.get("activity") or []:
        proposal = _reference(activity)
        if not proposal or "detail" not in activity:
            activities.append(activity)
            continue
        detail = activity["detail"]
        kept = {k: v for k, v in activity.items() if k not in ("detail", "extension")}
        kept["reference"] = {"reference": proposal, "display": str(detail.get("description") or proposal)}
        activities.append(kept)
        request = requests.get(proposal)
        step = [e for e in activity.get("extension") or [] if e.get("url") == STEP_URL]
        if request is None or not step or _parts(request, STEP_URL):
            continue
        number = _parts(activity, STEP_URL)["number"][0]["valueInteger"]
        identifier = {"system": STEP_ID_SYSTEM, "value": f"{plan.get('id')}-step-{number}"}
        changed.append(
            {
                **request,
                "identifier": [*request.get("identifier", []), identifier],
                "extension": [*request.get("extension", []), *step],
            }
        )
    plan["activity"] = activities
    return plan, changed
