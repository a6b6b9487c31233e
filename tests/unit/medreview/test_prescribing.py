"""Taper steps as orders a GP could sign (``services.medreview.domain.prescribing``).

The table's expected orders are worked out by hand from the dm+d strengths in
shared/terminology/data/dmd-opioid-products.csv (MST-style morphine MR tablets 5, 10, 15, 30, 60, 100, 200 mg;
fentanyl patches 12, 25, 37.5, 50, 75, 100 micrograms/hour changed every 72 h; buprenorphine 7-day patches)
and the Misuse of Drugs Regulations 2001 schedules as the BNF lists them (morphine and oxycodone Schedule 2,
morphine oral solution of not more than 2 mg/ml Schedule 5, buprenorphine Schedule 3, codeine Schedule 5).
The properties run plans over generated regimens of every opioid product in that file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.medreview.domain.ome import OmeReason, oral_morphine_equivalent
from services.medreview.domain.prescribing import (
    Order,
    PrescribingProblem,
    controlled_schedule,
    in_words,
    issuable_per_dose,
    mass_words,
    step_orders,
)
from services.medreview.domain.strengths import compose_dose
from services.medreview.domain.taper import CAP_WINDOW_DAYS, RegimenItem, TaperPolicy, plan_taper
from services.medreview.fhir_mapping import step_proposals
from services.medreview.workflow.planning import sublingual_buprenorphine
from shared.terminology import DmdProduct, DrugClass, load_product_catalogue

CATALOGUE = load_product_catalogue()
OPIOIDS = tuple(p for p in CATALOGUE.products if p.drug_class is DrugClass.OPIOID)


def product(name: str) -> DmdProduct:
    return next(p for p in CATALOGUE.products if p.name == name)


def orders(name: str, daily: str, per_day: int, days: int) -> tuple[Order, ...] | PrescribingProblem:
    chosen = product(name)
    return step_orders(Decimal(daily), chosen, CATALOGUE.family_of(chosen), doses_per_day=per_day, days=days)


def summary(found: tuple[Order, ...] | PrescribingProblem) -> object:
    if isinstance(found, PrescribingProblem):
        return found.code
    return [(o.product.name, o.per_dose, o.doses_per_day, o.quantity, o.controlled) for o in found]


MST = "Morphine {}mg modified-release tablets"


@pytest.mark.parametrize(
    ("name", "daily", "per_day", "days", "expected"),
    [
        # 60 mg twice a day: one 60 mg tablet a dose, 2 x 14 = 28 tablets.
        (MST.format(60), "120", 2, 14, [(MST.format(60), 1, 2, 28, True)]),
        # 110 mg a day twice a day = 55 mg a dose = 30 + 15 + 10 (no two tablets make 55): 28 of each.
        (
            MST.format(60),
            "110",
            2,
            14,
            [
                (MST.format(30), 1, 2, 28, True),
                (MST.format(15), 1, 2, 28, True),
                (MST.format(10), 1, 2, 28, True),
            ],
        ),
        # 15 mg a day twice a day is 7.5 mg a dose: no whole MR tablets make it (never divided).
        (MST.format(60), "15", 2, 14, "not-issuable"),
        # Co-codamol keeps its one strength: 120 mg a day four times a day is one 30/500 tablet a dose, 56
        # for 14 days; codeine is Schedule 5, so no controlled-drug wording is needed.
        ("Co-codamol 30mg/500mg tablets", "120", 4, 14, [("Co-codamol 30mg/500mg tablets", 1, 4, 56, False)]),
        # ... and 120 mg a day three times a day (40 mg a dose) is not whole 30 mg tablets: refused, never
        # made up with the 8 mg strength (that would add paracetamol).
        ("Co-codamol 30mg/500mg tablets", "120", 3, 14, "not-issuable"),
        # 62.5 micrograms/hour = 50 + 12.5 (the "12" patch's release rate) worn together: two patches, the
        # fewest, as 37.5 + 25 would be (the composer takes the smallest patch last on a tie), changed every
        # 72 h: 28 days need ceil(672/72) = 10 of each.
        (
            "Fentanyl 50micrograms/hour transdermal patches",
            "62.5",
            1,
            28,
            [
                ("Fentanyl 50micrograms/hour transdermal patches", 1, 1, 10, True),
                ("Fentanyl 12micrograms/hour transdermal patches", 1, 1, 10, True),
            ],
        ),
        # Buprenorphine 10 micrograms/hour, a 7-day patch: 28 days need 4; Schedule 3.
        (
            "Buprenorphine 10micrograms/hour transdermal patches",
            "10",
            1,
            28,
            [("Buprenorphine 10micrograms/hour transdermal patches", 1, 1, 4, True)],
        ),
        # Oramorph 10 mg/5 ml (2 mg/ml, Schedule 5): 32 mg a day four times = 8 mg = 4 ml a dose;
        # 4 x 4 x 28 = 448 ml.
        (
            "Morphine sulfate 10mg/5ml oral solution",
            "32",
            4,
            28,
            [("Morphine sulfate 10mg/5ml oral solution", 4, 4, 448, False)],
        ),
        # 30 mg a day four times is 7.5 mg = 3.75 ml a dose: not a 0.5 ml measure.
        ("Morphine sulfate 10mg/5ml oral solution", "30", 4, 28, "not-issuable"),
        # Oxycodone 5 mg/5 ml (1 mg/ml, Schedule 2): 20 mg a day four times = 5 ml a dose, 280 ml in 14 days.
        (
            "Oxycodone 5mg/5ml oral solution sugar free",
            "20",
            4,
            14,
            [("Oxycodone 5mg/5ml oral solution sugar free", 5, 4, 280, True)],
        ),
        # A stop orders nothing.
        (MST.format(60), "0", 2, 14, []),
    ],
)
def test_a_steps_dose_becomes_the_orders_worked_out_by_hand(
    name: str, daily: str, per_day: int, days: int, expected: object
) -> None:
    assert summary(orders(name, daily, per_day, days)) == expected


def test_controlled_drug_orders_state_the_dose_and_the_total_in_words_and_figures() -> None:
    [order] = orders(MST.format(60), "120", 2, 14)  # type: ignore[misc]
    assert order.instruction == (
        "Take one 60 mg modified-release tablet twice a day (60 mg a dose, 120 mg a day)"
    )
    assert order.supply == "28 (twenty-eight) tablets"
    [patch] = orders("Buprenorphine 10micrograms/hour transdermal patches", "10", 1, 28)  # type: ignore[misc]
    assert patch.instruction == "Apply one 10 micrograms/hour patch, replacing it every 168 hours"
    assert patch.supply == "4 (four) patches"
    [liquid] = orders("Oxycodone 5mg/5ml oral solution sugar free", "20", 4, 14)  # type: ignore[misc]
    assert liquid.instruction == "Take 5 ml (5 mg) of the 5 mg in 5 ml oral solution four times a day"
    assert liquid.supply == "280 (two hundred and eighty) ml"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("1", "one"),
        ("14", "fourteen"),
        ("28", "twenty-eight"),
        ("56", "fifty-six"),
        ("100", "one hundred"),
        ("115", "one hundred and fifteen"),
        ("448", "four hundred and forty-eight"),
        ("1005", "one thousand and five"),
        ("1120", "one thousand one hundred and twenty"),
        ("17.5", "seventeen point five"),
        ("0.5", "zero point five"),
    ],
)
def test_quantities_in_words(value: str, words: str) -> None:
    assert in_words(Decimal(value)) == words


@pytest.mark.parametrize(
    ("name", "schedule"),
    [
        (MST.format(60), 2),
        ("Morphine sulfate 20mg/ml oral solution sugar free", 2),
        ("Morphine sulfate 10mg/5ml oral solution", None),
        ("Oxycodone 5mg/5ml oral solution sugar free", 2),
        ("Fentanyl 25micrograms/hour transdermal patches", 2),
        ("Tapentadol 50mg modified-release tablets", 2),
        ("Buprenorphine 5micrograms/hour transdermal patches", 3),
        ("Codeine 30mg tablets", None),
        ("Co-dydramol 10mg/500mg tablets", None),
    ],
)
def test_controlled_drug_schedules(name: str, schedule: int | None) -> None:
    found = next((p for p in CATALOGUE.products if p.name == name), None)
    if found is None:
        pytest.skip(f"{name} is not in the product data")
    assert controlled_schedule(found) == schedule


# ---- properties over generated regimens ---------------------------------------------------------------
@st.composite
def regimens(draw: st.DrawFn) -> tuple[DmdProduct, RegimenItem, int]:
    """A regimen of one opioid product as a GP could have written it: a per-dose composition of issuable
    units, at a frequency the form allows (patches one worn; modified-release once or twice a day; others up
    to four times a day, immediate-release tablets and capsules and liquids regular or "when required")."""
    chosen = draw(st.sampled_from(OPIOIDS))
    family = CATALOGUE.family_of(chosen)
    strengths = issuable_per_dose(chosen, family)
    if chosen.is_patch:
        per_day = 1
    elif chosen.modified_release:
        per_day = draw(st.sampled_from((1, 2)))
    else:
        per_day = draw(st.sampled_from((1, 2, 3, 4)))
    units = draw(st.lists(st.sampled_from(strengths), min_size=1, max_size=3))
    per_dose = sum(units, Decimal(0))
    max_units = len(units) if chosen.with_ingredients else max(len(units), 3)
    if chosen.per_unit == "ml":
        max_units = None
    unit = "microgram/hour" if chosen.is_patch else "mg/day"
    factor = Decimal("2.4") if chosen.is_patch else Decimal(1)
    # as the planner takes them (workflow.planning.per_administration): immediate-release tablets and
    # capsules, and liquids "when required", may also step to fewer administrations a day
    immediate = not chosen.modified_release and (
        (chosen.route == "oral" and chosen.per_unit in ("tablet", "capsule"))
        or sublingual_buprenorphine(chosen)
    )
    as_needed = (immediate or chosen.per_unit == "ml") and draw(st.booleans())
    item = RegimenItem(
        "MedicationRequest/x",
        chosen.name,
        chosen.ingredient,
        per_dose * per_day,
        unit,
        factor,
        strengths,
        max_units,
        per_day,
        frequency_read=not chosen.is_patch,
        fewer_administrations=immediate or as_needed,
        as_needed=as_needed,
    )
    interval = draw(st.sampled_from((14, 28)))
    return chosen, item, interval


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(regimens())
def test_every_step_of_a_plan_is_issuable_as_written_never_up_and_within_the_monthly_cap(
    drawn: tuple[DmdProduct, RegimenItem, int],
) -> None:
    chosen, item, interval = drawn
    start = date(2026, 3, 2)
    plan = plan_taper([item], start, TaperPolicy(interval_days=interval))
    family = CATALOGUE.family_of(chosen)
    previous = item.daily_dose
    previous_each = item.daily_dose / item.doses_per_day  # the prescription's dose each time
    for step in plan.steps:
        dose = step.dose.daily_dose
        assert dose <= previous  # never an increase
        previous = dose
        per_day = step.dose.doses_per_day
        if not chosen.is_patch:  # never a bigger dose each time than the step before (C6.6)
            assert dose / per_day <= previous_each, (chosen.name, item.daily_dose, item.doses_per_day, step)
            previous_each = dose / per_day
        found = step_orders(
            dose, chosen, family, doses_per_day=per_day, days=interval, as_needed=item.as_needed
        )
        assert not isinstance(found, PrescribingProblem), (chosen.name, dose, found)
        covered = Decimal(0)
        for order in found:
            if chosen.is_patch or chosen.per_unit != "ml":
                assert order.per_dose == order.per_dose.to_integral_value()  # MR, patches: whole units
            if chosen.is_patch:
                changes = -(-Decimal(interval * 24) // Decimal(chosen.patch_change_hours or 1))
                assert order.quantity >= order.per_dose * changes
                covered += order.mg_per_dose
            else:
                assert order.quantity >= order.per_dose * order.doses_per_day * interval
                if item.fewer_administrations:  # never more often than prescribed
                    assert order.doses_per_day <= item.doses_per_day
                else:
                    assert order.doses_per_day == item.doses_per_day  # the frequency is kept
                assert ("when required" in order.instruction) is item.as_needed
                covered += order.mg_per_dose * order.doses_per_day
            assert "as directed" not in order.text.lower() and "divided" not in order.text.lower()
            if order.controlled:
                # the dose each time, in mg, or in micrograms below 1 mg (BNF, prescription writing)
                each = order.mg_per_dose if order.mg_per_dose >= 1 else order.mg_per_dose * 1000
                unit = "mg" if order.mg_per_dose >= 1 else "micrograms"
                stated = f"{format(each.normalize(), 'f')} {unit}"
                assert stated in order.instruction or "micrograms/hour" in order.instruction
                assert f"({in_words(order.quantity)})" in order.supply
            if chosen.with_ingredients:
                assert order.product.strength_per_unit == chosen.strength_per_unit  # one strength kept
        assert covered == dose  # the orders give exactly the step's dose
    baseline = plan.baseline_ome_mg_per_day
    for step in plan.steps:
        window = [
            s.reduction_mg_per_day
            for s in plan.steps
            if step.date - timedelta(days=CAP_WINDOW_DAYS) < s.date <= step.date
        ]
        assert sum(window, Decimal(0)) * 100 <= baseline * 30  # never above 30% in any 28 days


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(OPIOIDS), st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=40)
)
def test_any_dose_refused_is_one_no_whole_units_or_measures_make(
    chosen: DmdProduct, per_day: int, tenths: int
) -> None:
    daily = Decimal(tenths) * chosen.strength_per_unit / 2
    found = step_orders(daily, chosen, CATALOGUE.family_of(chosen), doses_per_day=per_day, days=14)
    strengths = issuable_per_dose(chosen, CATALOGUE.family_of(chosen))
    if chosen.is_patch:
        issuable = compose_dose(daily, strengths) is not None
    else:
        issuable = compose_dose(daily / per_day, strengths) is not None
    assert isinstance(found, PrescribingProblem) is (not issuable)


_NEVER_PLANNED = frozenset(
    {
        OmeReason.NO_FIXED_FACTOR,
        OmeReason.NO_FACTOR,
        OmeReason.TRANSMUCOSAL_FENTANYL,
        OmeReason.OPIOID_SUBSTITUTION,
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(regimens())
def test_every_proposed_step_reads_back_as_its_dose_with_its_supply_and_controlled_drug_wording(
    drawn: tuple[DmdProduct, RegimenItem, int],
) -> None:
    """Each step of a plan over a generated regimen, as the proposed MedicationRequest the GP signs: the one
    dose reader reads it back as the step's dose (mg a day, or microgram/hour worn); its wording never says
    "in divided doses" or "as directed"; it states what to supply for the interval, with "Controlled drug,
    Schedule n" exactly when an order is Schedule 2 or 3; a step in several strengths is one proposal per
    strength (each read back alone, adding up to the step's dose), and each proposal's
    dispenseRequest.quantity covers the interval; "when required" stays "when required"."""
    chosen, item, interval = drawn
    # Every form in the product data is written per administration (oral tablets, capsules, liquids,
    # sublingual buprenorphine tablets) or as patches; any other form is refused by the planner
    # (test_immediate_release_steps.py::test_a_form_whose_steps_are_not_written_here_is_refused_naming_it).
    assert item.frequency_read or chosen.is_patch
    family = CATALOGUE.family_of(chosen)
    plan = plan_taper([item], date(2026, 3, 2), TaperPolicy(interval_days=interval))
    for step in plan.steps:
        if step.action.value == "hold" or step.dose.daily_dose == 0:
            continue
        proposals = step_proposals(
            step.dose,
            current=chosen,
            family=family,
            start=step.date,
            patient="Patient/p",
            careplan="CarePlan/c",
            authored=datetime(2026, 3, 1, tzinfo=UTC),
            note="step",
            days=interval,
        )
        read = oral_morphine_equivalent([{**p, "status": "active"} for p in proposals]).medications
        # never planned: no OME (methadone), or the drug service's or a specialist's (gates, C1.1)
        assume(all(med.reason_code not in _NEVER_PLANNED for med in read))
        assert all(med.computable for med in read), (chosen.name, step.dose, [m.reason for m in read])
        assert sum(med.daily_dose or 0 for med in read) == step.dose.daily_dose  # one order per strength
        assert all(med.as_needed is item.as_needed for med in read)
        # As the GP record gives it back (GP Connect: the dosage as text alone), it reads as the same dose.
        back = oral_morphine_equivalent(
            [
                {
                    **p,
                    "status": "active",
                    "dosageInstruction": [{"text": d["text"]} for d in p["dosageInstruction"]],
                }
                for p in proposals
            ]
        ).medications
        assert all(b.computable for b in back), (proposals, [b.reason for b in back])
        assert sum(b.daily_dose or 0 for b in back) == step.dose.daily_dose
        text = " ".join(d["text"] for p in proposals for d in p["dosageInstruction"])
        assert "divided" not in text and "as directed" not in text
        if len(proposals) > 1:  # a step in several strengths: one prescription each, one group
            assert len({str(p["medicationCodeableConcept"]) for p in proposals}) == len(proposals)
            assert all("quantity" in p["dispenseRequest"] for p in proposals)
            # and each dosage says what it is taken with and the step's dose in all (a pharmacist's review,
            # 2026-12-07: an order read alone said only its own share), which the reader leaves as advice
            total = (
                f"{step.dose.daily_dose.normalize():f} micrograms/hour in all"
                if chosen.is_patch
                else f"{mass_words(step.dose.daily_dose)} a day"
            )
            for proposal in proposals:
                [advice] = proposal["dosageInstruction"][0]["additionalInstruction"]
                assert "together with" in advice["text"] and total in advice["text"], advice
        found = step_orders(
            step.dose.daily_dose,
            chosen,
            family,
            doses_per_day=step.dose.doses_per_day,
            days=interval,
            as_needed=item.as_needed,
        )
        assert isinstance(found, tuple) and found
        schedules = {o.schedule for o in found} - {None}
        assert ("Controlled drug, Schedule" in text) is bool(schedules)
        for order in found:
            assert f"{order.supply} of {order.product.name}" in text
        assert len(proposals) == len(found)
        for proposal, order in zip(
            proposals, found, strict=True
        ):  # each order's quantity covers the interval
            supplied = Decimal(str(proposal["dispenseRequest"]["quantity"]["value"]))
            per_interval = order.per_dose * (
                -(-Decimal(interval * 24) // (chosen.patch_change_hours or 1))
                if chosen.is_patch
                else order.doses_per_day * interval
            )
            assert supplied >= per_interval
