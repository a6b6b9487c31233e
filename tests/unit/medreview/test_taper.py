"""Taper planner: table-driven schedules and properties every plan must keep."""

from __future__ import annotations

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
    plan = plan_taper([item("bup", "20", "2.4", BUPRENORPHINE_7_DAY)], START)
    expected = [
        (0, StepAction.REDUCE, 15, "36.0"),
        (14, StepAction.HOLD, 15, "36.0"),
        (28, StepAction.REDUCE, 10, "24.0"),
        (42, StepAction.HOLD, 10, "24.0"),
        (56, StepAction.REDUCE, 5, "12.0"),
        (70, StepAction.HOLD, 5, "12.0"),
        (84, StepAction.STOP, 0, "0"),
    ]
    got = [(d, s.action, s.dose.daily_dose, s.total_ome_mg_per_day) for d, s in zip(days(plan), plan.steps)]
    assert got == [(d, a, Decimal(dose), Decimal(total)) for d, a, dose, total in expected]
    assert plan.reaches_target and plan.baseline_ome_mg_per_day == 48
    assert "cap" in plan.steps[1].note


def test_morphine_120mg_by_default_drops_about_10_percent_of_the_start_every_two_weeks_then_slows() -> None:
    plan = plan_taper([item("mor", "120", "1", MORPHINE_MR, max_units=2)], START)
    doses = [int(s.dose.daily_dose) for s in plan.steps]
    assert doses == [110, 100, 90, 75, 65, 60, 45, 35, 30, 25, 20, 15, 10, 5, 0]
    assert days(plan) == list(range(0, 14 * len(doses), 14))
    assert plan.steps[-1].action is StepAction.STOP and plan.final_ome_mg_per_day == 0


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
    original = plan_taper([item("bup", "20", "2.4", BUPRENORPHINE_7_DAY)], START)
    paused_on = START + timedelta(days=10)  # after step 1 (20 -> 15), before step 2
    current = [item("bup", "15", "2.4", BUPRENORPHINE_7_DAY)]
    replanned = replan_taper(original, current, paused_on, replace(original.policy, interval_days=7))
    assert replanned.baseline_ome_mg_per_day == 48 and replanned.starting_ome_mg_per_day == 36
    first_cut = next(s for s in replanned.steps if s.action is not StepAction.HOLD)
    assert first_cut.date >= START + timedelta(days=CAP_WINDOW_DAYS)  # step 1's 12 mg still counts until then
    assert all(s.dose.daily_dose <= 15 for s in replanned.steps)


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
    # 240 mg a day, 10% of it (24 mg) a step is nearest one 30 mg tablet less: 210, then 180, 150, ...
    assert [step.dose.daily_dose for step in plan.steps[:3]] == [210, 180, 150]


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
    10% of 120 = 12 mg OME wanted a step, at most 30% (36) in any 28 days. Patches of 12.5, 25, 37.5, 50...
    2 Mar: 45 wanted, 37.5 (90 OME, 30 off). 16 Mar: 25 would take 30 more in 28 days: held. 30 Mar: 25
    (60). 13 Apr: held. 27 Apr: 20 wanted, 12.5 (30). 11 May: held. 25 May: stop."""
    plan = _fentanyl_plan("50")
    got = [(s.date.isoformat(), s.action, s.dose.daily_dose, s.total_ome_mg_per_day) for s in plan.steps]
    hold, reduce = StepAction.HOLD, StepAction.REDUCE
    assert got == [
        ("2026-03-02", reduce, Decimal("37.5"), Decimal(90)),
        ("2026-03-16", hold, Decimal("37.5"), Decimal(90)),
        ("2026-03-30", reduce, Decimal(25), Decimal(60)),
        ("2026-04-13", hold, Decimal(25), Decimal(60)),
        ("2026-04-27", reduce, Decimal("12.5"), Decimal(30)),
        ("2026-05-11", hold, Decimal("12.5"), Decimal(30)),
        ("2026-05-25", StepAction.STOP, Decimal(0), Decimal(0)),
    ]
    assert all(count == 1 for s in plan.steps for _, count in s.dose.units)


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
