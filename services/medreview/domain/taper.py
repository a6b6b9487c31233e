"""Taper plans: a schedule of dose reductions (or holds) from a patient's current opioid regimen.

Pure and date-driven (the start date is an argument). Defaults follow docs/domain/reference-facts.md: 10% of
the starting dose every 2 weeks (UK practice guidance), or 10% a month after a year or more of use
(:meth:`TaperPolicy.long_term_use`); slow down at lower doses; never reduce faster than the monthly cap; round
every dose to one made of strengths that exist; never increase a dose.

Choices made here (all configurable in :class:`TaperPolicy`):

* the monthly cap is a percentage of the *baseline* total OME (the plan's first starting total) reduced within
  any 28-day window, default 30%, because reductions above about 30% a month were associated with more
  overdoses; a reduction the cap does not allow yet becomes a hold, one it can never allow blocks the plan;
* below ``slow_below_percent`` of the baseline the step is multiplied by ``slow_step_factor`` (default: halved
  below 30%);
* the plan keeps its pace: each interval adds its step to what is due, a reduction is made while something is
  due (the dose nearest to the current less what is due) and what it takes is taken off; a reduction bigger
  than what was due (the strengths allow no smaller) leaves the plan ahead of its pace, and it holds until
  the intervals since have asked for as much (a pharmacist's review, 2026-12-07: OxyContin 20 mg twice a
  day stepped to 15 mg twice a day, 25% at a 10% step, then again a fortnight later; the slow-down changed
  nothing);
* one opioid is reduced at a time, in the patient's chosen ``order`` (references or ingredient names), and a
  product is only ever replaced by strengths of its own family (same ingredient, form, route, release);
* doses are composed per day from the family's unit strengths, with at most ``RegimenItem.max_units`` units;
  :func:`regimen_from_ome` sets that to the units taken now for compound products (so paracetamol in
  co-codamol never rises) and to the larger of that and 4 (two strengths twice a day) otherwise (patches:
  strengths worn together); an item whose administrations a day were read is composed per administration
  (``doses_per_day`` equal doses, ``max_units`` each), and an immediate-release one may also step to fewer
  administrations a day, never a bigger dose each time than the step before (``strengths.Schedules``);
* the plan ends at the first total at or below the target: exactly the target when a strength combination
  reaches it, otherwise the nearest combination below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from services.medreview.domain.ome import OmeResult
from services.medreview.domain.strengths import Compositions, Schedules, compose_dose
from shared.terminology import ProductCatalogue, load_product_catalogue

__all__ = [
    "CAP_WINDOW_DAYS",
    "ItemDose",
    "RegimenItem",
    "StepAction",
    "StepBasis",
    "TaperPlan",
    "TaperPolicy",
    "TaperStep",
    "compose_dose",
    "plan_taper",
    "regimen_from_ome",
    "replan_taper",
]

CAP_WINDOW_DAYS = 28
_AHEAD = (
    "Held: the reductions so far are {:f} mg OME/day ahead of the plan's pace; "
    "it waits for the pace to catch up"
)
_ON_PACE = "Held: the reductions so far have kept the plan's pace exactly; it waits for the next step"
_HUNDRED = Decimal(100)
_SINGLE_PRODUCT_MIN_UNITS = 4


@dataclass(frozen=True, slots=True)
class RegimenItem:
    """One opioid: ``daily_dose`` of ``ingredient`` in ``unit`` (``mg/day``, or ``microgram/hour`` for
    patches), ``factor`` mg OME/day per ``unit``, made from ``strengths`` (its family's unit strengths).
    ``max_units``: most tablets, capsules, ml or patches a day a new dose may take (``None``: no limit)."""

    reference: str
    product: str
    ingredient: str
    daily_dose: Decimal
    unit: str
    factor: Decimal
    strengths: tuple[Decimal, ...]
    max_units: int | None = None
    doses_per_day: int = 1
    """Equal administrations a day: a new dose is ``doses_per_day`` times a composition of ``strengths``
    (``max_units`` then bounds the units of one administration), so twice a day stays twice a day."""
    frequency_read: bool = False
    """The administrations a day were read from the prescription (else a dose is a day's total)."""
    fewer_administrations: bool = False
    """An immediate-release dose may also step down to fewer administrations a day (``doses_per_day`` is
    then the most), each of at most ``max_units`` units and never more than the step before's dose each time
    (``strengths.Schedules``)."""
    as_needed: bool = False
    """Taken "when required": ``doses_per_day`` administrations a day at most."""


class StepBasis(StrEnum):
    """What a step's percentage is of: the baseline (starting) total OME or the current total."""

    STARTING = "starting"
    CURRENT = "current"


@dataclass(frozen=True, slots=True)
class TaperPolicy:
    """How fast to taper. Percentages are of total OME; ``target_mg_per_day`` 0 means stop."""

    step_percent: Decimal = Decimal(10)
    step_basis: StepBasis = StepBasis.STARTING
    interval_days: int = 14
    slow_below_percent: Decimal | None = Decimal(30)
    slow_step_factor: Decimal = Decimal("0.5")
    target_mg_per_day: Decimal = Decimal(0)
    max_monthly_reduction_percent: Decimal = Decimal(30)
    order: tuple[str, ...] = ()
    max_steps: int = 200

    def __post_init__(self) -> None:
        if self.step_percent <= 0 or self.interval_days < 1 or self.max_monthly_reduction_percent <= 0:
            raise ValueError("a taper needs a positive step, interval and monthly cap")

    @classmethod
    def uk_default(cls) -> TaperPolicy:
        """10% of the starting dose every 2 weeks (change fields with ``dataclasses.replace``)."""
        return cls()

    @classmethod
    def long_term_use(cls) -> TaperPolicy:
        """10% of the starting dose every 4 weeks, for use over a year or more."""
        return cls(interval_days=28)


class StepAction(StrEnum):
    REDUCE = "reduce"
    STOP = "stop"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class ItemDose:
    """An opioid's dose after a step: ``units`` are (strength, count) pairs making ``daily_dose``."""

    reference: str
    product: str
    daily_dose: Decimal
    unit: str
    units: tuple[tuple[Decimal, int], ...]
    ome_mg_per_day: Decimal
    doses_per_day: int = 1
    """When above 1, ``units`` make one of that many equal administrations a day (not the day's total)."""
    frequency_read: bool = False
    as_needed: bool = False


@dataclass(frozen=True, slots=True)
class TaperStep:
    """Step ``number`` on ``date``: ``dose`` is the changed opioid's new dose (product, dose per day, unit and
    the units making it), reducing the total by ``reduction_mg_per_day`` to ``total_ome_mg_per_day`` (mg
    OME/day); ``regimen`` holds every opioid after the step. A hold keeps the dose; ``note`` says why."""

    number: int
    date: date
    action: StepAction
    dose: ItemDose
    reduction_mg_per_day: Decimal
    total_ome_mg_per_day: Decimal
    regimen: tuple[ItemDose, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class TaperPlan:
    """A schedule from ``start_date``. ``baseline_ome_mg_per_day`` is what percentages and the cap refer to;
    ``reaches_target`` is false when ``blocked_reason`` says why the plan cannot go on without review."""

    start_date: date
    policy: TaperPolicy
    baseline_ome_mg_per_day: Decimal
    starting_ome_mg_per_day: Decimal
    steps: tuple[TaperStep, ...]
    reaches_target: bool
    blocked_reason: str | None = None
    history: tuple[tuple[date, Decimal], ...] = field(default=(), repr=False)

    @property
    def final_ome_mg_per_day(self) -> Decimal:
        return self.steps[-1].total_ome_mg_per_day if self.steps else self.starting_ome_mg_per_day


_Table = Compositions | Schedules


def _table(item: RegimenItem) -> _Table:
    """The daily doses an item can step down to: equal doses at its frequency, or (immediate release) also at
    fewer administrations a day, each no bigger than the dose each time it steps down from."""
    if item.fewer_administrations:
        return Schedules(
            item.strengths, item.daily_dose / item.doses_per_day, item.max_units, item.doses_per_day
        )
    return Compositions([s * item.doses_per_day for s in item.strengths], item.daily_dose, item.max_units)


def _ome(item: RegimenItem, dose: Decimal) -> Decimal:
    return dose * item.factor


def _total(items: Sequence[RegimenItem], doses: dict[str, Decimal]) -> Decimal:
    return sum((_ome(i, doses[i.reference]) for i in items), Decimal(0))


def _ordered(regimen: Sequence[RegimenItem], order: Sequence[str]) -> list[RegimenItem]:
    def rank(item: RegimenItem) -> int:
        keys = [i for i, key in enumerate(order) if key in (item.reference, item.ingredient)]
        return keys[0] if keys else len(order)

    return sorted(regimen, key=rank)  # stable: unlisted items keep the regimen's order


def plan_taper(
    regimen: Sequence[RegimenItem],
    start: date,
    policy: TaperPolicy | None = None,
    *,
    baseline_ome_mg_per_day: Decimal | None = None,
    history: Sequence[tuple[date, Decimal]] = (),
) -> TaperPlan:
    """Plan steps every ``policy.interval_days`` from ``start`` (step 1 on ``start``) until the target.

    ``baseline_ome_mg_per_day`` and ``history`` (earlier steps' dates and OME reductions) carry a paused
    plan's baseline and recent reductions into a re-plan; see :func:`replan_taper`.
    """
    policy = policy or TaperPolicy()
    items = _ordered(regimen, policy.order)
    doses = {item.reference: item.daily_dose for item in items}
    tables = {i.reference: _table(i) for i in items}
    starting = sum((_ome(i, i.daily_dose) for i in items), Decimal(0))
    baseline = starting if baseline_ome_mg_per_day is None else baseline_ome_mg_per_day
    cap = baseline * policy.max_monthly_reduction_percent / _HUNDRED
    target = policy.target_mg_per_day
    reductions = list(history)
    steps: list[TaperStep] = []
    day, blocked = start, None
    due = Decimal(0)  # the reduction the plan's pace has asked for and not made (below zero: ahead of it)
    while (total := _total(items, doses)) > target and len(steps) < policy.max_steps:
        step = (
            (baseline if policy.step_basis is StepBasis.STARTING else total) * policy.step_percent / _HUNDRED
        )
        if policy.slow_below_percent is not None and total < baseline * policy.slow_below_percent / _HUNDRED:
            step *= policy.slow_step_factor
        due += step
        allowed = cap - sum(r for d, r in reductions if day - timedelta(days=CAP_WINDOW_DAYS) < d <= day)
        item, pool = _candidates(items, doses, tables, total, target)
        current = doses[item.reference]
        desired = current - due / item.factor
        feasible = [c for c in pool if _ome(item, current - c) <= allowed]
        if feasible and due > 0:
            new = min(feasible, key=lambda c: (abs(c - desired), -c))
            action = StepAction.STOP if new == 0 else StepAction.REDUCE
            note = ""
        elif feasible:
            # the reduction before went past the pace (OxyContin 20 mg bd, at 6 mg OME a step, can only lose
            # 15 at once): the plan waits until the intervals since have asked for as much
            new, action = current, StepAction.HOLD
            note = _AHEAD.format((-due).normalize()) if due < 0 else _ON_PACE
        elif (gentlest := min(_ome(item, current - c) for c in pool)) <= cap:
            new, action = current, StepAction.HOLD
            note = f"Held: the {CAP_WINDOW_DAYS}-day reduction cap of {cap.normalize()} mg OME/day is reached"
        else:
            blocked = (
                f"The smallest possible reduction of {item.product} ({gentlest.normalize():f} mg OME/day) is "
                f"over the {CAP_WINDOW_DAYS}-day cap of {cap.normalize():f} mg OME/day: prescriber to review"
            )
            break
        reduction = _ome(item, current - new)
        doses[item.reference] = new
        reductions.append((day, reduction))
        due -= reduction  # below zero: ahead of the pace, held until it has caught up
        snapshot = _snapshot(items, doses, tables)
        changed = next(d for d in snapshot if d.reference == item.reference)
        after = _total(items, doses)
        steps.append(TaperStep(len(steps) + 1, day, action, changed, reduction, after, snapshot, note))
        day += timedelta(days=policy.interval_days)
    reached = blocked is None and _total(items, doses) <= target
    if not reached and blocked is None:
        blocked = f"Stopped after {policy.max_steps} steps without reaching the target"
    return TaperPlan(start, policy, baseline, starting, tuple(steps), reached, blocked, tuple(history))


def _candidates(
    items: Sequence[RegimenItem],
    doses: dict[str, Decimal],
    tables: dict[str, _Table],
    total: Decimal,
    target: Decimal,
) -> tuple[RegimenItem, list[Decimal]]:
    """The item to reduce and its possible new doses: the first (in order) that can come down without
    crossing the target, else the first still taken, going to its next dose below (crossing the target)."""
    active = [i for i in items if doses[i.reference] > 0]
    for item in active:
        below = tables[item.reference].below(doses[item.reference])
        above_target = [c for c in below if total - _ome(item, doses[item.reference] - c) >= target]
        if above_target:
            return item, above_target
    first = active[0]
    return first, tables[first.reference].below(doses[first.reference])[:1]


def _snapshot(
    items: Sequence[RegimenItem], doses: dict[str, Decimal], tables: dict[str, _Table]
) -> tuple[ItemDose, ...]:
    def schedule(item: RegimenItem) -> tuple[int, tuple[tuple[Decimal, int], ...]]:
        table, dose = tables[item.reference], doses[item.reference]
        if isinstance(table, Schedules):
            per_day, made = table.per_day(dose), table.units(dose)
            if per_day is not None and made is not None:
                return per_day, made
        else:
            found = table.units(dose)
            if found is not None:
                return item.doses_per_day, tuple((s / item.doses_per_day, n) for s, n in found)
        return item.doses_per_day, ((dose / item.doses_per_day, 1),)  # a starting dose kept as prescribed

    def one(i: RegimenItem) -> ItemDose:
        per_day, made = schedule(i)
        dose = doses[i.reference]
        return ItemDose(
            i.reference, i.product, dose, i.unit, made, _ome(i, dose), per_day, i.frequency_read, i.as_needed
        )

    return tuple(one(i) for i in items)


def replan_taper(
    plan: TaperPlan, current: Sequence[RegimenItem], on: date, policy: TaperPolicy | None = None
) -> TaperPlan:
    """Re-plan from the doses actually taken now (after a pause, a slow-down or a declined step).

    Keeps the plan's baseline, and counts reductions already made in the last 28 days (steps dated before
    ``on``) against the monthly cap. Never starts above ``current``: the new plan only goes down from there.
    """
    taken = [(s.date, s.reduction_mg_per_day) for s in plan.steps if s.date < on]
    return plan_taper(
        current,
        on,
        policy or plan.policy,
        baseline_ome_mg_per_day=plan.baseline_ome_mg_per_day,
        history=[*plan.history, *taken],
    )


def regimen_from_ome(result: OmeResult, catalogue: ProductCatalogue | None = None) -> tuple[RegimenItem, ...]:
    """Taper inputs from the computable opioids of an OME result; strengths come from each product's family
    in the catalogue (mg per tablet/capsule/ml, or microgram/hour per patch)."""
    catalogue = catalogue or load_product_catalogue()
    items = []
    for med in result.medications:
        product = med.identified.product if med.identified else None
        if not med.computable or product is None or med.daily_dose is None or med.factor is None:
            continue
        # A combination product (co-codamol, co-dydramol) keeps the one strength taken: mixing strengths
        # would make a step no prescriber writes, and never lowers the partner (paracetamol) per unit.
        strengths = (
            (product.strength_per_unit,)
            if product.with_ingredients
            else tuple(p.strength_per_unit for p in catalogue.family_of(product))
        )
        taken = int(-(-med.daily_dose // product.strength_per_unit))  # units a day now
        taken = taken if product.with_ingredients else max(taken, _SINGLE_PRODUCT_MIN_UNITS)
        dose, unit = med.daily_dose, med.unit or "mg/day"
        item = RegimenItem(
            med.reference, product.name, product.ingredient, dose, unit, med.factor, strengths, taken
        )
        items.append(item)
    return tuple(items)
