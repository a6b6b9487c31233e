"""Taper planner: table-driven schedules and properties every plan must keep."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.medreview.domain.ome import oral_morphine_equivalent
from services.medreview.domain.taper import (
    CAP_WINDOW_DAYS,
    RegimenItem,
    StepAction,
    StepBasis,
    TaperPlan,
    TaperPolicy,
    compose_dose,
    plan_taper,
    regimen_from_ome,
    replan_taper,
)
from services.medreview.workflow.planning import per_administration
from shared.terminology import load_ome_factor_table, load_product_catalogue

START = date(2026, 1, 5)
MORPHINE_MR = tuple(Decimal(s) for s in ("5", "10", "15", "30", "60", "100", "200"))
OXYCODONE_MR = tuple(Decimal(s) for s in ("5", "10", "15", "20", "30", "40", "60", "80", "120"))
BUPRENORPHINE_7_DAY = tuple(Decimal(s) for s in ("5", "10", "15", "20"))
FENTANYL = tuple(Decimal(s) for s in ("12", "25", "37.5", "50", "75", "100"))


def item(ref: str, dose: str, factor: str, strengths: tuple[Decimal, ...], **extra: object) -> RegimenItem:
    unit = "microgram/hour" if strengths in (BUPRENORPHINE_7_DAY, FENTANYL) else "mg/day"
    fields = {"product": f"{ref} product", "ingredient": ref, **extra}
    return RegimenItem(f"MedicationRequest/{ref}", str(fields["product"]), str(fields["ingredient"]),
                       Decimal(dose), unit, Decimal(factor), strengths, fields.get("max_units"))  # type: ignore[arg-type]  # fmt: skip


def days(plan: TaperPlan) -> list[int]:
    return [(step.date - plan.start_date).days for step in plan.steps]


def test_buprenorphine_20_patch_by_default_steps_one_patch_size_and_holds_for_the_monthly_cap() -> None:
    """Buprenorphine 20 micrograms/hour x 2.4 = 48 mg OME. UK defaults: 10% of 48 = 4.8 mg OME is due each
    14 days (2.4 below 30% of 48 = 14.4), at most 30% of 48 = 14.4 in any 28 days. One patch size (5) is
    12 mg OME, the gentlest reduction there is: made whenever something is due and the cap allows it, taken
    off what is due (below zero: ahead of the pace, held until the intervals since have asked for as much).
    "due" is before the step, then after it.
    - day 0: due 4.8; 15 (12 <= 14.4; 10 takes 24). Total 36; due -7.2.
    - day 14: due -2.4; 12 taken on day 0, 2.4 left in the window: held (cap).
    - day 28: due 2.4; day 0 has left the window (28 - 28 = 0, not after it): 10. Total 24; due -9.6.
    - day 42: due -4.8; held (cap: 12 on day 28).
    - day 56: due 0; the cap allows 12 again, nothing is due: held (pace).
    - day 70: due 4.8; 5. Total 12; due -7.2.
    - day 84: 12 < 14.4, the step halved to 2.4: due -4.8, held (cap: 12 on day 70).
    - day 98: due -2.4, held (pace). Day 112: due 0, held (pace).
    - day 126: due 2.4: stop. Total 0."""
    plan = plan_taper([item("bup", "20", "2.4", BUPRENORPHINE_7_DAY)], START)
    hold, reduce = StepAction.HOLD, StepAction.REDUCE
    expected = [
        (0, reduce, 15, "36"),
        (14, hold, 15, "36"),
        (28, reduce, 10, "24"),
        (42, hold, 10, "24"),
        (56, hold, 10, "24"),
        (70, reduce, 5, "12"),
        (84, hold, 5, "12"),
        (98, hold, 5, "12"),
        (112, hold, 5, "12"),
        (126, StepAction.STOP, 0, "0"),
    ]
    got = [(d, s.action, s.dose.daily_dose, s.total_ome_mg_per_day) for d, s in zip(days(plan), plan.steps)]
    assert got == [(d, a, Decimal(dose), Decimal(total)) for d, a, dose, total in expected]
    assert plan.reaches_target and plan.baseline_ome_mg_per_day == 48
    assert all(s.reduction_mg_per_day in (0, 12) for s in plan.steps)  # one patch size at a time
    assert [n for n, s in enumerate(plan.steps, start=1) if "cap" in s.note] == [2, 4, 7]
    assert [n for n, s in enumerate(plan.steps, start=1) if "pace" in s.note] == [5, 8, 9]


def test_morphine_120mg_by_default_drops_about_10_percent_of_the_start_every_two_weeks_then_slows() -> None:
    """Morphine MR 120 mg a day (x 1 = 120 mg OME), at most two tablets a day of 5, 10, 15, 30, 60, 100 or
    200 mg: the doses below 120 are 115, 110, 105, 100, 90, 75, 70, 65, 60, 45, 40, 35, 30, 25, 20, 15, 10,
    5, 0 (no 50, 55, 80, 85 or 95 in two tablets). 10% of 120 = 12 mg is due every 14 days (6 below 30% of
    120 = 36), at most 36 in any 28 days; while something is due, a reduction to the nearest dose to
    (dose - due) among those the cap allows (the larger on a tie), what it takes taken off what is due.
    - day 0: due 12, 108 wanted; 110 (115 and 105 are further). Due 2.
    - day 14: due 14, 96 wanted; 100 or 90 (at most 36 - 10 = 26 less): 100. Due 4.
    - day 28: due 16, 84 wanted; 90 or 75 (26 left; day 0 is out of the window): 90. Due 6.
    - day 42: due 18, 72 wanted; 75, 70 or 65 (26 left): 70 (20 off). Due -2.
    - day 56: due 10, 60 wanted; 65 or 60 (36 - 20 = 16 left): 60. Due 0.
    - day 70: due 12, 48 wanted; 45, 40 or 35 (26 left): 45. Due -3.
    - day 84: 45 >= 36, due 9, 36 wanted; 40, 35, 30 or 25 (21 left): 35. Due -1.
    - day 98: 35 < 36, the step halved to 6: due 5, 30 wanted: 30. Due 0.
    - day 112: due 6, 24 wanted: 25. Due 1. Day 126: due 7, 18 wanted: 20 (15 is further). Due 2.
    - day 140: due 8, 12 wanted: 10 (15 is further). Due -2. Day 154: due 4, 6 wanted: 5. Due -1.
    - day 168: due 5, 0 wanted: stop. No holds: the plan is never ahead of its pace when a step is due.
    Above 36 mg OME the plan took 10, 10, 10, 20, 10, 15, 10 (85 in seven steps, about 12 a step); below it
    5, 5, 5, 10, 5, 5 (35 in six steps, about 6 a step, as the halved step asks)."""
    plan = plan_taper([item("mor", "120", "1", MORPHINE_MR, max_units=2)], START)
    doses = [int(s.dose.daily_dose) for s in plan.steps]
    assert doses == [110, 100, 90, 70, 60, 45, 35, 30, 25, 20, 10, 5, 0]
    assert [n for n, s in enumerate(plan.steps, start=1) if s.action is StepAction.HOLD] == []
    assert days(plan) == list(range(0, 14 * len(doses), 14))
    reductions = [int(s.reduction_mg_per_day) for s in plan.steps]
    assert reductions == [10, 10, 10, 20, 10, 15, 10, 5, 5, 5, 10, 5, 5]
    assert plan.steps[-1].action is StepAction.STOP and plan.final_ome_mg_per_day == 0


OXYCONTIN_STRENGTHS = tuple(Decimal(s) for s in ("5", "10", "15", "20", "30", "40", "60", "80"))


def test_a_reduction_past_the_plans_pace_is_followed_by_holds_and_it_slows_below_30_percent() -> None:
    """OxyContin (oxycodone MR) 20 mg twice a day: 40 mg a day x 1.5 = 60 mg OME. MR strengths 5, 10, 15, 20,
    30, 40, 60, 80 mg, at most 3 tablets a dose, twice a day: the doses below are 15, 10 or 5 mg twice a day
    (30, 20, 10 mg a day) and 0; each 5 mg a dose less is 15 mg OME. UK defaults: 10% of 60 = 6 mg OME due
    every 14 days, 3 below 30% of 60 = 18; at most 30% of 60 = 18 in any 28 days. While something is due
    (and the cap allows one) a reduction is made, to the nearest dose to (dose - due); what it takes is
    taken off what is due, which may go below zero: the plan is then ahead of its pace and holds until the
    intervals since have asked for as much. "due" is before the step, then after it.
    - day 0: due 6; 15 mg bd (15 <= 18; 10 mg bd takes 30). Total 45; due -9.
    - day 14: due -3; 15 on day 0 leaves 3 in the window: held (cap).
    - day 28: due 3; day 0 has left the window (28 - 28 = 0, not after it): 10 mg bd. Total 30; due -12.
    - day 42: due -6: held (cap: 15 on day 28).
    - day 56: due 0; the cap allows 15 again, but nothing is due: held (pace, 0 ahead).
    - day 70: due 6; 5 mg bd. Total 15 (below 18); due -9.
    - day 84: the step halved to 3: due -6, held (cap: 15 on day 70).
    - day 98: due -3: held (pace, 3 ahead). Day 112: due 0: held (pace, 0 ahead).
    - day 126: due 3: stop. Total 0; due -12.
    At most 12 mg OME/day ahead of the pace (after days 28 and 126), less than one reduction (15). 28 days
    at 45 mg OME and 42 at 30 (at or above 18), but 56 at 15 (below it): the same 15 mg OME cut takes
    longer there. Without the slow-down (the step 6 throughout) the stop comes on day 98 (day 84: due -3,
    held for the cap; day 98: due 3)."""
    oxycontin = replace(
        item("oxy", "40", "1.5", OXYCONTIN_STRENGTHS, max_units=3), doses_per_day=2, frequency_read=True
    )
    plan = plan_taper([oxycontin], START)
    got = [
        ((step.date - START).days, step.action.value, step.dose.daily_dose, step.dose.units)
        for step in plan.steps
    ]
    bd15, bd10, bd5 = ((Decimal(15), 1),), ((Decimal(10), 1),), ((Decimal(5), 1),)
    assert got == [
        (0, "reduce", 30, bd15),
        (14, "hold", 30, bd15),
        (28, "reduce", 20, bd10),
        (42, "hold", 20, bd10),
        (56, "hold", 20, bd10),
        (70, "reduce", 10, bd5),
        (84, "hold", 10, bd5),
        (98, "hold", 10, bd5),
        (112, "hold", 10, bd5),
        (126, "stop", 0, ()),
    ]
    cap = "Held: the 28-day reduction cap of 18 mg OME/day is reached"

    def pace(ahead: str) -> str:
        return (
            f"Held: the reductions so far are {ahead} mg OME/day ahead of the plan's pace; "
            "it waits for the pace to catch up"
        )

    on_pace = "Held: the reductions so far have kept the plan's pace exactly; it waits for the next step"
    # every hold is a cap hold or a pace hold, in those words (due 0: on the pace, not ahead of it); a
    # reduction has no note
    notes = ["", cap, "", cap, on_pace, "", cap, pace("3"), on_pace, ""]
    assert [step.note for step in plan.steps] == notes
    # the due amount at each step (before it, then after it), worked by hand above
    due, total, dues, afters = Decimal(0), Decimal(60), list[Decimal](), list[Decimal]()
    for step in plan.steps:
        due += 6 if total >= 18 else 3
        dues.append(due)
        due -= step.reduction_mg_per_day
        afters.append(due)
        total = step.total_ome_mg_per_day
    assert dues == [6, -3, 3, -6, 0, 6, -6, -3, 0, 3]
    assert afters == [-9, -3, -12, -6, 0, -9, -6, -3, 0, -12]
    for step, before in zip(plan.steps, dues, strict=True):
        if step.action is not StepAction.HOLD:
            assert before > 0, step  # a reduction only while something is due
        elif "pace" in step.note:
            assert before <= 0, step  # a pace hold only while nothing is due
    # never ahead of its pace by more than one reduction
    largest = max(step.reduction_mg_per_day for step in plan.steps)
    assert largest == 15 and min(afters) == -12 and min(afters) > -largest
    # days at each dose after a cut: 45 and 30 mg OME (at or above 30% of 60) 28 and 42; 15 (below it) 56
    cuts = [(step.date - START).days for step in plan.steps if step.action is not StepAction.HOLD]
    assert cuts == [0, 28, 70, 126]
    gaps = [b - a for a, b in itertools.pairwise(cuts)]
    assert gaps == [28, 42, 56] and gaps[-1] > max(gaps[:-1])
    unslowed = plan_taper([oxycontin], START, TaperPolicy(slow_below_percent=None))
    assert days(unslowed)[-1] == 98 and days(plan)[-1] == 126


def test_long_term_use_steps_every_four_weeks() -> None:
    plan = plan_taper([item("mor", "120", "1", MORPHINE_MR)], START, TaperPolicy.long_term_use())
    assert days(plan)[:3] == [0, 28, 56]


def test_a_target_dose_ends_the_plan_there() -> None:
    policy = TaperPolicy(target_mg_per_day=Decimal(60))
    plan = plan_taper([item("oxy", "80", "1.5", OXYCODONE_MR, max_units=2)], START, policy)
    assert plan.reaches_target and plan.final_ome_mg_per_day == 60
    assert plan.steps[-1].dose.daily_dose == 40 and plan.steps[-1].dose.units == ((Decimal(40), 1),)


def test_a_target_no_strength_combination_reaches_ends_at_the_nearest_dose_below() -> None:
    policy = TaperPolicy(target_mg_per_day=Decimal(30))  # 12.5 microgram/hour cannot be made
    plan = plan_taper([item("bup", "20", "2.4", BUPRENORPHINE_7_DAY)], START, policy)
    assert plan.reaches_target and plan.final_ome_mg_per_day == 24


def test_the_patients_choice_of_opioid_is_reduced_first() -> None:
    regimen = [item("mor", "60", "1", MORPHINE_MR), item("cod", "240", "0.1", (Decimal(30),))]
    plan = plan_taper(regimen, START, TaperPolicy(order=("cod",)))
    first_reduced = [s.dose.reference for s in plan.steps if s.action is not StepAction.HOLD]
    switch = first_reduced.index("MedicationRequest/mor")
    assert set(first_reduced[:switch]) == {"MedicationRequest/cod"}
    assert plan.steps[switch - 1].dose.daily_dose == 0


def test_a_step_of_the_current_dose_gets_smaller_as_the_dose_falls() -> None:
    policy = TaperPolicy(step_basis=StepBasis.CURRENT, slow_below_percent=None)
    plan = plan_taper([item("mor", "200", "1", MORPHINE_MR)], START, policy)
    reductions = [s.reduction_mg_per_day for s in plan.steps[:6]]
    assert reductions[0] >= reductions[-1] and reductions[0] <= 20


def test_a_reduction_larger_than_the_cap_allows_blocks_the_plan_for_review() -> None:
    plan = plan_taper([item("cod", "15", "0.1", (Decimal(15), Decimal(30)))], START)
    assert not plan.reaches_target and plan.steps == ()
    assert plan.blocked_reason and "cap" in plan.blocked_reason


def test_a_replan_after_a_pause_starts_from_the_current_dose_and_keeps_the_baseline_and_recent_cuts() -> None:
    """The buprenorphine 20 plan above cuts 20 -> 15 (12 mg OME) on day 0, holds for the cap on day 14 and
    cuts 15 -> 10 (12) on day 28. Paused on day 38 (after that cut, before step 4) and re-planned every 7
    days from 10 (24 mg OME): the baseline stays 48 (a step of 4.8 due every 7 days, 2.4 below 14.4; cap
    14.4), and the 12 cut on day 28 counts until day 56. "due" is before the step.
    - days 38, 45, 52: due 4.8, 9.6, 14.4, but 12 more would make 24 > 14.4 in the window: held (cap).
      (With no cut in the window, the plan would have cut on day 38: 4.8 due.)
    - day 59: day 28 is out of the window (59 - 28 = 31): due 19.2, 5, due 19.2 - 12 = 7.2. Total 12.
    - days 66, 73, 80: 12 < 14.4, the step halved to 2.4: due 9.6, 12, 14.4, held (cap: 12 on day 59).
    - day 87: day 59 is out of the window: due 16.8, stop."""
    original = plan_taper([item("bup", "20", "2.4", BUPRENORPHINE_7_DAY)], START)
    assert [s.action for s in original.steps[:3]] == [StepAction.REDUCE, StepAction.HOLD, StepAction.REDUCE]
    assert original.steps[2].dose.daily_dose == 10
    paused_on = START + timedelta(days=38)  # after step 3 (day 28: 15 -> 10), before step 4
    current = [item("bup", "10", "2.4", BUPRENORPHINE_7_DAY)]
    replanned = replan_taper(original, current, paused_on, replace(original.policy, interval_days=7))
    assert replanned.baseline_ome_mg_per_day == 48 and replanned.starting_ome_mg_per_day == 24
    cuts = [
        ((s.date - START).days, s.dose.daily_dose) for s in replanned.steps if s.action is not StepAction.HOLD
    ]
    assert cuts == [(59, 5), (87, 0)]
    # step 3's 12 mg still counts until 28 days after it (day 56): the first 7-day step after then is day 59
    assert cuts[0][0] >= 28 + CAP_WINDOW_DAYS
    assert all("cap" in s.note for s in replanned.steps if s.action is StepAction.HOLD)
    assert [(s.date - START).days for s in replanned.steps] == list(range(38, 88, 7))
    assert all(s.dose.daily_dose <= 10 for s in replanned.steps)


@pytest.mark.parametrize(
    ("dose", "strengths", "expected"),
    [
        ("87.5", FENTANYL, ((Decimal("50"), 1), (Decimal("37.5"), 1))),
        ("62", FENTANYL, ((Decimal("50"), 1), (Decimal("12"), 1))),
        ("13", FENTANYL, None),
        ("90", MORPHINE_MR, ((Decimal("60"), 1), (Decimal("30"), 1))),
        ("0", MORPHINE_MR, ()),
    ],
)
def test_doses_are_made_of_strengths_that_exist(
    dose: str, strengths: tuple[Decimal, ...], expected: tuple[tuple[Decimal, int], ...] | None
) -> None:
    assert compose_dose(Decimal(dose), strengths) == expected


def test_the_regimen_comes_from_an_ome_result_with_the_product_familys_strengths() -> None:
    resource = {
        "resourceType": "MedicationRequest",
        "id": "oxy",
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{"system": "https://dmd.nhs.uk", "code": "36130911000001104"}]
        },
        "dosageInstruction": [{"text": "one tablet twice a day"}],
    }
    [regimen] = regimen_from_ome(oral_morphine_equivalent([resource]))
    assert (regimen.daily_dose, regimen.factor, regimen.max_units) == (Decimal(80), Decimal("1.5"), 4)
    assert regimen.strengths == OXYCODONE_MR


def test_co_codamol_keeps_its_strength_and_never_takes_more_tablets_so_paracetamol_never_rises() -> None:
    resource = {
        "resourceType": "MedicationRequest",
        "id": "cc",
        "status": "active",
        "medicationCodeableConcept": {"text": "Co-codamol 30mg/500mg tablets"},
        "dosageInstruction": [{"text": "two tablets four times a day"}],
    }
    [regimen] = regimen_from_ome(oral_morphine_equivalent([resource]))
    assert regimen.max_units == 8 and regimen.strengths == (Decimal(30),)  # one strength kept
    plan = plan_taper([regimen], START)
    assert plan.reaches_target
    assert all(sum(n for _, n in step.dose.units) <= 8 for step in plan.steps)
    assert {strength for step in plan.steps for strength, _ in step.dose.units} <= {Decimal(30)}
    # 240 mg a day x 0.1 = 24 mg OME: 2.4 due every 14 days (1.2 below 7.2), cap 7.2; one 30 mg tablet less
    # is 3 mg OME. A reduction whenever something is due (the nearest to the dose less what is due), taken
    # off what is due; while due <= 0 a hold (pace). Due before the step, then after it:
    # Day 0: 2.4, 210 (216 wanted), -0.6. Day 14: 1.8, 180 (3 <= 7.2 - 3; 150 takes 6), -1.2.
    # Day 28: 1.2, 150 (4.2 left), -1.8. Day 42: 0.6, 120, -2.4. Day 56: 0, held (pace). Day 70: 2.4, 90
    # (96 wanted; 60 is further), -0.6. Day 84: 9 >= 7.2, 1.8, 60, -1.2. Day 98: 6 < 7.2, the step 1.2: 0,
    # held (pace). Day 112: 1.2, 30 (48 wanted), -1.8. Day 126: -0.6, held (pace). Day 140: 0.6, stop.
    assert [(step.action.value, step.dose.daily_dose) for step in plan.steps] == [
        ("reduce", 210),
        ("reduce", 180),
        ("reduce", 150),
        ("reduce", 120),
        ("hold", 120),
        ("reduce", 90),
        ("reduce", 60),
        ("hold", 60),
        ("reduce", 30),
        ("hold", 30),
        ("stop", 0),
    ]
    assert all("pace" in step.note for step in plan.steps if step.action is StepAction.HOLD)


# --- properties ------------------------------------------------------------------------------------------
def _families() -> list[tuple[str, Decimal, tuple[Decimal, ...]]]:
    catalogue, factors = load_product_catalogue(), load_ome_factor_table()
    families = {}
    for product in catalogue.products:
        row = factors.factor_for(product.ingredient, product.route)
        if row is not None and row.factor is not None and product.per_unit != "ml":
            strengths = tuple(p.strength_per_unit for p in catalogue.family_of(product))
            families[product.family] = (product.name, row.factor, strengths)
    return sorted(families.values())


FAMILIES = _families()


@st.composite
def regimens(draw: st.DrawFn) -> list[RegimenItem]:
    chosen = draw(st.lists(st.sampled_from(FAMILIES), min_size=1, max_size=2, unique_by=lambda f: f[0]))
    items = []
    for index, (name, factor, strengths) in enumerate(chosen):
        counts = draw(st.lists(st.integers(0, 2), min_size=len(strengths), max_size=len(strengths)))
        dose = sum((s * c for s, c in zip(strengths, counts)), Decimal(0)) or strengths[0]
        items.append(RegimenItem(f"MedicationRequest/{index}", name, name, dose, "u", factor, strengths))
    return items


@st.composite
def policies(draw: st.DrawFn, start_total: Decimal) -> TaperPolicy:
    target_percent = draw(st.sampled_from([0, 0, 25, 50, 80]))
    return TaperPolicy(
        step_percent=Decimal(draw(st.integers(5, 25))),
        step_basis=draw(st.sampled_from(list(StepBasis))),
        interval_days=draw(st.sampled_from([7, 14, 21, 28])),
        slow_below_percent=draw(st.sampled_from([None, Decimal(20), Decimal(30), Decimal(50)])),
        target_mg_per_day=(start_total * target_percent / 100).quantize(Decimal("0.1")),
        max_monthly_reduction_percent=Decimal(draw(st.integers(10, 60))),
        order=tuple(draw(st.permutations([f"MedicationRequest/{i}" for i in range(2)]))),
        max_steps=1000,
    )


def _total(regimen: list[RegimenItem]) -> Decimal:
    return sum((i.daily_dose * i.factor for i in regimen), Decimal(0))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_plan_only_reduces_or_holds_stays_under_the_cap_uses_real_strengths_and_ends_at_target(
    data: st.DataObject,
) -> None:
    regimen = data.draw(regimens())
    policy = data.draw(policies(_total(regimen)))
    plan = plan_taper(regimen, START, policy)
    by_ref = {i.reference: i for i in regimen}
    cap = plan.baseline_ome_mg_per_day * policy.max_monthly_reduction_percent / 100

    previous = {i.reference: i.daily_dose for i in regimen}
    previous_total = _total(regimen)
    for number, step in enumerate(plan.steps, start=1):
        assert step.date == START + timedelta(days=policy.interval_days * (number - 1))
        assert step.total_ome_mg_per_day <= previous_total
        assert (step.action is StepAction.HOLD) == (step.reduction_mg_per_day == 0)
        for dose in step.regimen:
            assert dose.daily_dose <= previous[dose.reference]  # never an increase
            if dose.daily_dose != by_ref[dose.reference].daily_dose:
                made = compose_dose(dose.daily_dose, by_ref[dose.reference].strengths)
                assert made == dose.units and set(s for s, _ in dose.units) <= set(
                    by_ref[dose.reference].strengths
                )
            previous[dose.reference] = dose.daily_dose
        previous_total = step.total_ome_mg_per_day
        window = [
            s.reduction_mg_per_day for s in plan.steps if step.date - timedelta(days=28) < s.date <= step.date
        ]
        assert sum(window) <= cap

    if plan.reaches_target:
        assert plan.final_ome_mg_per_day <= policy.target_mg_per_day
        if policy.target_mg_per_day == 0:
            assert all(d.daily_dose == 0 for d in plan.steps[-1].regimen)
    else:
        assert plan.blocked_reason
    feasible = all(max(i.strengths) * i.factor <= cap for i in regimen)
    assert plan.reaches_target or not feasible


def _request(name: str, text: str) -> dict[str, Any]:
    """A GP's MedicationRequest for ``name``, its dosage written ``text``."""
    return {
        "resourceType": "MedicationRequest",
        "id": "f",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": name},
        "dosageInstruction": [{"text": text}],
    }


def _fentanyl_plan(strength: str) -> TaperPlan:
    request = _request(
        f"Fentanyl {strength}micrograms/hour transdermal patches", "apply one patch every 72 hours"
    )
    return plan_taper(regimen_from_ome(oral_morphine_equivalent([request])), date(2026, 3, 2))


def test_a_fentanyl_50_patch_steps_by_whole_patches_never_four_12s_that_reduce_nothing() -> None:
    """Fentanyl 50 micrograms/hour: 50 x 2.4 = 120 mg OME (Opioids Aware). The "12" patch releases 12.5
    (SmPCs, section 2): 4 x "12" (48, read as a 4% step) is 50, no reduction, in four patches. UK defaults:
    10% of 120 = 12 mg OME due every 14 days (6 below 30% of 120 = 36), at most 30% (36) in any 28 days.
    Patches of 12.5, 25, 37.5, 50...: one 12.5 less is 30 mg OME, made whenever something is due and the
    cap allows it, then held (pace) until the intervals since have asked for as much. Due before, then after:
    2 Mar: 12, 37.5 (90 OME, 30 off), -18. 16 Mar: -6, 30 more in 28 days is over 36: held (cap).
    30 Mar: 6, 25 (60), -24. 13 Apr: -12, held (cap). 27 Apr: 0, held (pace). 11 May: 12, 12.5 (30), -18.
    25 May: 30 < 36, halved: -12, held (cap). 8 Jun: -6, held (pace). 22 Jun: 0, held (pace). 6 Jul: 6,
    stop."""
    plan = _fentanyl_plan("50")
    got = [(s.date.isoformat(), s.action, s.dose.daily_dose, s.total_ome_mg_per_day) for s in plan.steps]
    hold, reduce = StepAction.HOLD, StepAction.REDUCE
    assert got == [
        ("2026-03-02", reduce, Decimal("37.5"), Decimal(90)),
        ("2026-03-16", hold, Decimal("37.5"), Decimal(90)),
        ("2026-03-30", reduce, Decimal(25), Decimal(60)),
        ("2026-04-13", hold, Decimal(25), Decimal(60)),
        ("2026-04-27", hold, Decimal(25), Decimal(60)),
        ("2026-05-11", reduce, Decimal("12.5"), Decimal(30)),
        ("2026-05-25", hold, Decimal("12.5"), Decimal(30)),
        ("2026-06-08", hold, Decimal("12.5"), Decimal(30)),
        ("2026-06-22", hold, Decimal("12.5"), Decimal(30)),
        ("2026-07-06", StepAction.STOP, Decimal(0), Decimal(0)),
    ]
    assert all(count == 1 for s in plan.steps for _, count in s.dose.units)
    assert [n for n, s in enumerate(plan.steps, start=1) if "cap" in s.note] == [2, 4, 7]
    assert [n for n, s in enumerate(plan.steps, start=1) if "pace" in s.note] == [5, 8, 9]


def test_a_fentanyl_25_patch_whose_smallest_step_is_over_the_cap_is_blocked_not_stepped_to_two_12s() -> None:
    """Fentanyl 25: 60 mg OME, the cap 30% = 18. Its only smaller doses are 12.5 (30 off) and none: over the
    cap, so the plan is blocked for the prescriber (it offered 2 x "12", which is 25 again)."""
    plan = _fentanyl_plan("25")
    assert plan.steps == () or all(s.action is StepAction.HOLD for s in plan.steps), plan.steps
    assert plan.blocked_reason is not None and "28-day cap" in plan.blocked_reason


@pytest.mark.parametrize(
    ("name", "text", "refused"),
    [
        # a fentanyl matrix patch is changed every 72 hours (SmPC); every 48 hours is an adjustment some
        # patients need: a step "changed every 72 hours" would change the interval and the dose at once
        ("Fentanyl 50micrograms/hour transdermal patches", "apply one patch every 48 hours", True),
        ("Fentanyl 50micrograms/hour transdermal patches", "apply one patch every 72 hours", False),
        ("Fentanyl 50micrograms/hour transdermal patches", "Apply ONE patch every 3 days", False),
        # BuTrans is a 7-day patch: every 72 hours is a prescription to check (it was stepped at 168 hours)
        ("BuTrans 20micrograms/hour transdermal patches", "apply one patch every 72 hours", True),
        ("BuTrans 20micrograms/hour transdermal patches", "apply one patch every 7 days", False),
        # Transtec (96 hours) is changed twice a week, on the same two days (SmPC)
        ("Transtec 35micrograms/hour transdermal patches", "apply one patch twice weekly", False),
    ],
)
def test_a_patch_changed_at_another_interval_than_its_products_is_not_stepped(
    name: str, text: str, refused: bool
) -> None:
    request = _request(name, text)
    result = oral_morphine_equivalent([request])
    [med] = result.medications
    [item] = regimen_from_ome(result)
    read = per_administration(item, med, load_product_catalogue(), request["dosageInstruction"])
    assert isinstance(read, str) is refused, read
    if refused:
        assert "to be checked" in str(read)
