"""Immediate-release tablets and capsules, and "when required" doses, step down in the form's own terms.

Worked by hand from the dm+d strengths in shared/terminology/data/dmd-opioid-products.csv (oxycodone
capsules 5, 10 and 20 mg; co-codamol 30/500 mg tablets keep their one strength), the UK OME factor of oral
oxycodone (1.5: docs/domain/reference-facts.md), the UK defaults (10% of the starting OME every 14 days,
never more than 30% of it in any 28 days, halved below 30% of it) and the Misuse of Drugs Regulations 2001
(oxycodone Schedule 2; codeine tablets Schedule 5). A step is never "in divided doses" and never a bigger
dose each time than now.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.medreview.domain.ome import oral_morphine_equivalent
from services.medreview.domain.prescribing import step_orders
from services.medreview.domain.strengths import Schedules
from services.medreview.domain.taper import RegimenItem, TaperPlan, TaperPolicy, plan_taper, regimen_from_ome
from services.medreview.workflow import on_medication_list_synced, propose_taper
from services.medreview.workflow.planning import per_administration
from shared.contracts import MEDICATION_LIST_SYNCED_V1
from shared.fhir import Unprocessable
from shared.terminology import load_product_catalogue
from tests.unit.medreview.medreview_support import NOW, Harness, database, medicine, patient_bundle

CATALOGUE = load_product_catalogue()
OXY_5 = next(p for p in CATALOGUE.products if p.name == "Oxycodone 5mg capsules")
BUP_200 = next(p for p in CATALOGUE.products if p.name == "Buprenorphine 200microgram sublingual tablets")
START = date(2026, 3, 2)


def test_an_immediate_release_dose_steps_to_fewer_doses_a_day_never_a_bigger_dose_each_time() -> None:
    # one 5 mg capsule four times a day (20 mg): one dose may hold at most 5 mg, so the daily doses below are
    # 15 (5 x 3), 10 (5 x 2: twice a day beats one 10 mg capsule once a day), 5 (once a day) and 0.
    table = Schedules((Decimal(5), Decimal(10), Decimal(20)), Decimal(5), 3, 4)
    assert table.below(Decimal(20)) == [15, 10, 5, 0]
    assert [(table.per_day(Decimal(d)), table.units(Decimal(d))) for d in (15, 10, 5)] == [
        (3, ((5, 1),)),
        (2, ((5, 1),)),
        (1, ((5, 1),)),
    ]
    # two 10 mg capsules twice a day (40 mg): a dose of at most 20 mg (5, 10, 15 = 10 + 5, or 20), once or
    # twice a day: 5 and 15 once; 10, 20, 30, 40 twice (10 twice a day as 5 mg twice, not 10 mg once).
    table = Schedules((Decimal(5), Decimal(10), Decimal(20)), Decimal(20), 3, 2)
    assert table.below(Decimal(40)) == [30, 20, 15, 10, 5, 0]
    assert [(table.per_day(Decimal(d)), table.units(Decimal(d))) for d in (30, 15, 10)] == [
        (2, ((10, 1), (5, 1))),
        (1, ((10, 1), (5, 1))),
        (2, ((5, 1),)),
    ]


def oxycodone_item(as_needed: bool) -> RegimenItem:
    return RegimenItem(
        "MedicationRequest/oxy",
        OXY_5.name,
        "oxycodone",
        Decimal(20),
        "mg/day",
        Decimal("1.5"),
        (Decimal(5), Decimal(10), Decimal(20)),
        max_units=3,
        doses_per_day=4,
        frequency_read=True,
        fewer_administrations=True,
        as_needed=as_needed,
    )


def test_one_oxycodone_capsule_four_times_a_day_steps_to_three_times_then_twice_then_once() -> None:
    """20 mg a day x 1.5 = 30 mg OME; 10% of 30 = 3 mg OME (2 mg oxycodone) is due every 14 days (1.5 below
    30% of 30 = 9); the cap is 30% of 30 = 9 mg OME in any 28 days. One 5 mg capsule less a day is 7.5 mg
    OME, the gentlest reduction: made whenever something is due and the cap allows it, and taken off what is
    due (below zero: ahead of the plan's pace, held until the intervals since have asked for as much). Due
    before the step, then after it:
    - 2 Mar: due 3; 15 mg (one 5 mg capsule three times a day), 7.5 <= 9 (10 takes 15). Due -4.5.
    - 16 Mar: due -1.5; 7.5 on 2 Mar leaves 1.5 in the window: held (cap).
    - 30 Mar: due 1.5; 2 Mar has left the window (30 Mar - 28 days = 2 Mar, not after it): 10 mg, twice a
      day. Due -6.
    - 13 Apr: due -3: held (cap). 27 Apr: due 0: held (pace).
    - 11 May: due 3: 5 mg, once a day (15 mg OME before it, not below 9: no slowing). Due -4.5; total 7.5.
    - 25 May: 7.5 < 9, the step halved to 1.5: due -3, held (cap). 8 Jun: -1.5, 22 Jun: 0: held (pace).
    - 6 Jul: due 1.5: stop."""
    plan = plan_taper([oxycodone_item(False)], START, TaperPolicy())
    summary = [
        (s.date.isoformat(), s.action.value, s.dose.daily_dose, s.dose.doses_per_day, s.dose.units)
        for s in plan.steps
    ]
    assert summary == [
        ("2026-03-02", "reduce", 15, 3, ((5, 1),)),
        ("2026-03-16", "hold", 15, 3, ((5, 1),)),
        ("2026-03-30", "reduce", 10, 2, ((5, 1),)),
        ("2026-04-13", "hold", 10, 2, ((5, 1),)),
        ("2026-04-27", "hold", 10, 2, ((5, 1),)),
        ("2026-05-11", "reduce", 5, 1, ((5, 1),)),
        ("2026-05-25", "hold", 5, 1, ((5, 1),)),
        ("2026-06-08", "hold", 5, 1, ((5, 1),)),
        ("2026-06-22", "hold", 5, 1, ((5, 1),)),
        ("2026-07-06", "stop", 0, 4, ()),
    ]
    assert [n for n, s in enumerate(plan.steps, start=1) if "cap" in s.note] == [2, 4, 7]
    assert [n for n, s in enumerate(plan.steps, start=1) if "pace" in s.note] == [5, 8, 9]
    assert plan.reaches_target


def test_a_when_required_step_says_up_to_how_often_the_most_a_day_and_a_quantity_for_the_interval() -> None:
    [order] = step_orders(  # type: ignore[misc]
        Decimal(15), OXY_5, CATALOGUE.family_of(OXY_5), doses_per_day=3, days=14, as_needed=True
    )
    # one 5 mg capsule up to three times a day for 14 days: at most 3 x 14 = 42 capsules
    assert order.instruction == (
        "Take one 5 mg capsule up to three times a day when required (5 mg a dose, at most 15 mg a day)"
    )
    assert order.supply == "42 (forty-two) capsules"
    assert order.schedule == 2
    [regular] = step_orders(  # type: ignore[misc]
        Decimal(15), OXY_5, CATALOGUE.family_of(OXY_5), doses_per_day=3, days=14
    )
    assert regular.instruction == "Take one 5 mg capsule three times a day (5 mg a dose, 15 mg a day)"


@pytest.fixture
def mr(medreview_db_url: str) -> Iterator[Harness]:
    harness = Harness(database(medreview_db_url))
    yield harness
    harness.engine.dispose()


def first_proposal(mr: Harness, name: str, text: str) -> dict[str, Any]:
    gp = patient_bundle("p1", medicine("x", name, text))
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp, time=NOW)
    careplan = mr.api(lambda s: propose_taper(s, "Patient/p1", TaperPolicy(), START, "uk-opioids-aware"))
    step = next(s for s in mr.steps(careplan) if s.proposal)
    assert step.proposal is not None
    return mr.read(step.proposal)


def test_oxycodone_capsules_when_required_are_proposed_as_one_capsule_up_to_three_times_a_day(
    mr: Harness,
) -> None:
    """The simulated practice's oxycodone: one 5 mg capsule four times a day when required (at most 20 mg a
    day). Its first reduction (2 Mar, the plan's start: above): one capsule up to three times a day, 42
    capsules for 14 days, Schedule 2."""
    proposal = first_proposal(mr, "Oxycodone 5mg capsules", "One capsule four times a day when required")
    [dosage] = proposal["dosageInstruction"]
    assert dosage["asNeededBoolean"] is True
    assert dosage["timing"]["repeat"]["frequency"] == 3 and dosage["timing"]["repeat"]["periodUnit"] == "d"
    assert dosage["doseAndRate"] == [{"doseQuantity": {"value": 1, "unit": "capsule"}}]
    assert proposal["medicationCodeableConcept"]["text"] == "Oxycodone 5mg capsules"
    assert "up to three times a day when required" in dosage["text"]
    assert "Controlled drug, Schedule 2. Supply 42 (forty-two) capsules" in dosage["text"]
    assert "divided" not in dosage["text"] and "as directed" not in dosage["text"]
    assert proposal["dispenseRequest"]["quantity"] == {"value": 42, "unit": "capsule"}


def test_co_codamol_two_tablets_four_times_a_day_steps_to_two_three_times_a_day(mr: Harness) -> None:
    """Co-codamol 30/500, two tablets four times a day: 240 mg codeine (x 0.1, Opioids Aware's codeine
    factor in docs/domain/reference-facts.md, = 24 mg OME). A dose may not hold more than two tablets
    (paracetamol), so below 8 tablets a day the schedules are 6 (two three times a day), 4 (one four times a
    day), 3, 2, 1. 10% of 24 = 2.4 mg OME is due every 14 days; the gentlest reduction, 180 mg, takes 6 mg
    OME: made on 2 Mar (2.4 due, 216 mg wanted; within the cap of 30% of 24 = 7.2; 120 would take 12). 6 x
    14 = 84 tablets; codeine tablets are Schedule 5, so no controlled-drug wording."""
    proposal = first_proposal(mr, "Co-codamol 30mg/500mg tablets", "two tablets four times a day")
    [dosage] = proposal["dosageInstruction"]
    assert dosage["timing"]["repeat"]["frequency"] == 3
    assert dosage["doseAndRate"] == [{"doseQuantity": {"value": 2, "unit": "tablet"}}]
    assert "three times a day" in dosage["text"] and "divided" not in dosage["text"]
    assert "Controlled drug" not in dosage["text"]
    assert "Supply 84 (eighty-four) tablets" in dosage["text"]
    assert proposal["dispenseRequest"]["quantity"] == {"value": 84, "unit": "tablet"}


def test_sublingual_buprenorphine_for_pain_steps_in_whole_tablets_never_as_directed(mr: Harness) -> None:
    """One 400 microgram sublingual buprenorphine tablet four times a day: 1.6 mg a day x 40 (Opioids Aware,
    sublingual buprenorphine) = 64 mg OME. 10% of 64 = 6.4 mg OME due every 14 days; the cap is 30% of 64
    = 19.2. Whole 200 and 400 microgram tablets, never a bigger dose than 400 micrograms each time, make
    1.2 (400 x 3), 0.8, 0.6, 0.4, 0.2 mg a day below 1.6: 1.2 mg takes 16 mg OME, made on 2 Mar (6.4 due,
    within the cap; 0.8 would take 32). One 400 microgram tablet three times a day for 14 days: 42 tablets;
    buprenorphine is Schedule 3."""
    proposal = first_proposal(
        mr, "Buprenorphine 400microgram sublingual tablets", "one tablet four times a day"
    )
    [dosage] = proposal["dosageInstruction"]
    assert proposal["medicationCodeableConcept"]["text"] == "Buprenorphine 400microgram sublingual tablets"
    assert dosage["timing"]["repeat"]["frequency"] == 3 and dosage["timing"]["repeat"]["periodUnit"] == "d"
    assert dosage["doseAndRate"] == [{"doseQuantity": {"value": 1, "unit": "tablet"}}]
    assert "Controlled drug, Schedule 3. Supply 42 (forty-two) tablets" in dosage["text"]
    assert "divided" not in dosage["text"] and "directs" not in dosage["text"]
    assert proposal["dispenseRequest"]["quantity"] == {"value": 42, "unit": "tablet"}


def test_a_form_whose_steps_are_not_written_here_is_refused_naming_it() -> None:
    """A buprenorphine buccal film (not in the product data: made here from the sublingual tablet) could only
    be stepped as a day's total "as directed", which no prescriber signs for a Schedule 3 drug: refused."""
    tablet = next(p for p in CATALOGUE.products if p.name == "Buprenorphine 400microgram sublingual tablets")
    film = dataclasses.replace(
        tablet,
        code=None,
        name="Buprenorphine 75microgram buccal films",
        form="buccal film",
        route="buccal",
        per_unit="film",
    )
    request = medicine("f", "Buprenorphine 400microgram sublingual tablets", "one tablet four times a day")
    [med] = oral_morphine_equivalent([request]).medications
    assert med.identified is not None and med.computable
    buccal = dataclasses.replace(med, identified=dataclasses.replace(med.identified, product=film))
    [item] = regimen_from_ome(dataclasses.replace(oral_morphine_equivalent([request]), medications=(buccal,)))
    refused = per_administration(item, buccal, CATALOGUE)
    assert isinstance(refused, str)
    assert "buccal film (buccal), a form whose steps are not written here" in refused


def test_co_codamol_eight_tablets_a_day_is_no_step_of_seven_tablets_at_once() -> None:
    """Co-codamol 30/500 "8 tablets a day": the day's total is read (8 x 30 = 240 mg codeine x 0.1 = 24 mg
    OME), but not how often: once a day was read, so a step would have been 7 tablets at once (3.5 g of
    paracetamol in one dose). Refused, naming why."""
    request = medicine("c", "Co-codamol 30mg/500mg tablets", "8 tablets a day")
    result = oral_morphine_equivalent([request])
    [med] = result.medications
    assert med.computable and med.reading is not None and med.reading.quantity == 8
    assert result.total_mg_per_day == 24
    [item] = regimen_from_ome(result)
    refused = per_administration(item, med, CATALOGUE)
    assert isinstance(refused, str) and "a day's total" in refused, refused


# ---- along a plan, never a bigger dose each time than the step before ------------------------------------
def test_a_schedule_below_a_dose_never_holds_more_each_time_than_that_dose_does() -> None:
    """Oxycodone capsules 5, 10 and 20 mg (dm+d), one 20 mg capsule three times a day: one dose may hold 5,
    10, 15 (10 + 5) or 20 mg (at most 3 capsules), once to three times a day. Below 60 mg a day: 45 (15 x 3),
    40 (20 x 2), 30 (10 x 3), 20 (10 x 2), 15 (5 x 3), 10 (5 x 2), 5, 0. Below 45 mg a day taken as 15 mg
    three times a day, 40 (20 mg twice a day) is a bigger dose each time than 15 mg: left out. Below 30
    (10 mg x 3), 15 mg once a day is not there either (15 is 5 mg x 3), and below 20 (10 mg x 2) only
    schedules of 5 mg capsules remain."""
    table = Schedules((Decimal(5), Decimal(10), Decimal(20)), Decimal(20), 3, 3)
    assert table.below(Decimal(60)) == [45, 40, 30, 20, 15, 10, 5, 0]
    assert table.below(Decimal(45)) == [30, 20, 15, 10, 5, 0]
    assert table.below(Decimal(30)) == [20, 15, 10, 5, 0]
    assert table.below(Decimal(20)) == [15, 10, 5, 0]
    assert [table.per_day(Decimal(d)) for d in (45, 30, 20, 15, 10, 5)] == [3, 3, 2, 3, 2, 1]


def planned(name: str, text: str) -> tuple[RegimenItem, TaperPlan]:
    """As the planner takes a GP's prescription (workflow.planning.taper_input), without the database."""
    result = oral_morphine_equivalent([medicine("x", name, text)])
    assert not result.incomplete
    [med] = result.medications
    [item] = regimen_from_ome(result)
    read = per_administration(item, med, CATALOGUE)
    assert isinstance(read, RegimenItem), read
    return read, plan_taper([read], START, TaperPolicy())


# Each row: a GP's prescription, and every step of its plan: "15 x3" is 15 mg each time three times a day
# ("up to" for a "when required" dose), "hold" keeps the dose, "stop" stops it. All
# worked by hand with the UK defaults (10% of the starting OME due every 14 days from 2 Mar 2026, at most
# 30% of it in any 28 days, the step halved below 30% of it), Opioids Aware oral factors (docs/domain/
# reference-facts.md: oxycodone 1.5, dihydrocodeine 0.1, codeine 0.1, tapentadol 0.4, morphine 1) and dm+d
# strengths (shared/terminology/data/dmd-opioid-products.csv). A dose each time is at most 3 tablets or
# capsules (or as many as now), a liquid is measured in 0.5 ml. Each interval adds its step to what is due;
# while something is due (due > 0) a reduction is made, to the nearest daily dose to (dose - due) (the
# larger on a tie) among those the 28-day cap allows, made as equal doses no bigger each time than the step
# before's, at the most times a day that make it; what it takes off is taken off what is due, which may go
# below zero (ahead of the pace). No dose the cap allows: a hold "(cap)"; else nothing due: a hold "(pace)".
# "due" below is before the step, then after it; "left" is what the cap still allows in the window.
EACH_TIME = [
    pytest.param(
        "Oxycodone 20mg capsules",
        "one capsule three times a day",
        # 60 mg a day x 1.5 = 90 mg OME: a step of 9 (6 mg), cap 27 (18 mg), slowed below 27. Worked out
        # step by step in test_oxycodone_20mg_three_times_a_day_is_planned_as_worked_by_hand below.
        "15 x3, hold, 10 x3, hold, hold, 10 x2, 5 x3, hold, 5 x2, 5 x1, hold, stop",
        id="oxycodone 20 mg 1 tds",
    ),
    pytest.param(
        "Dihydrocodeine 30mg tablets",
        "two tablets four times a day",
        # 240 mg x 0.1 = 24 mg OME: a step of 2.4 (24 mg), cap 7.2 (72 mg), slowed (12 mg) below 7.2. Doses
        # each time of 30, 40 or 60 (2 x 30) mg, 1 to 4 times a day: 240 = 60 x 4, 180 = 60 x 3,
        # 160 = 40 x 4, 120 = 30 x 4, 90 = 30 x 3, 80 = 40 x 2, 60 = 30 x 2, 40, 30.
        # 2 Mar: due 2.4, 216 wanted: 180 (60 x 3; 6 <= 7.2; 160 takes 8), -3.6. 16 Mar: due -1.2, 160 (2)
        # > 1.2 left: held (cap). 30 Mar: due 1.2, 168 wanted: 160 (40 x 4; 120 is further), -0.8.
        # 13 Apr: due 1.6, 144 wanted, 5.2 left: 120 (30 x 4; 4 OME), -2.4. 27 Apr: due 0, 90 within the 3.2
        # left: held (pace). 11 May: due 2.4, 96 wanted: 90 (30 x 3; not 80 = 40 x 2: bigger each time),
        # -0.6. 25 May: 9 OME >= 7.2, due 1.8, 72 wanted, 4.2 left: 60 (30 x 2), -1.2. 8 Jun: 6 < 7.2,
        # halved: due 0: held (pace). 22 Jun: due 1.2, 48 wanted: 30 (30 x 1, not 40 x 1), -1.8. 6 Jul:
        # due -0.6: held (pace). 20 Jul: due 0.6, 0 (3 <= 7.2).
        "60 x3, hold, 40 x4, 30 x4, hold, 30 x3, 30 x2, hold, 30 x1, hold, stop",
        id="dihydrocodeine 30 mg 2 qds",
    ),
    pytest.param(
        "Morphine sulfate 10mg/5ml oral solution",
        "5ml every 4 hours when required",
        # 10 mg up to 6 times a day = 60 mg OME: a step of 6, cap 18, slowed (3) below 18. In 0.5 ml (1 mg)
        # measures, 1 to 6 times a day. 2 Mar to 8 Jun: due 6 each time, 54, 48, 42, 36, 30, 24, 18, 12 (9
        # down to 2 mg six times a day; 6 a step, due 0 after each, 12 in any 28 days; 11 May: 24 wanted, 24
        # not 25 = 5 x 5; 18 on 8 Jun is not below 18: no slowing). 22 Jun: 12 < 18, halved: due 3, 9
        # wanted; at most 2 mg each time: 10 (2 x 5) or 8 (2 x 4), a tie: 10 (9 = 3 mg x 3 is a bigger dose
        # each time), due 1. 6 Jul: due 4, 6 wanted: 6 (1 x 6), due 0. 20 Jul: due 3, 3 wanted: 3 (1 x 3),
        # due 0. 3 Aug: due 3, 0 wanted: 0, due 0. Never ahead of the pace: no holds.
        "9 x6, 8 x6, 7 x6, 6 x6, 5 x6, 4 x6, 3 x6, 2 x6, 2 x5, 1 x6, 1 x3, stop",
        id="morphine 10mg/5ml 5 ml q4h prn",
    ),
    pytest.param(
        "Codeine 60mg tablets",
        "one tablet three times a day",
        # 180 mg x 0.1 = 18 mg OME: a step of 1.8 (18 mg), cap 5.4 (54 mg), slowed (9 mg) below 5.4. Doses
        # each time 15, 30, 45 (30 + 15), 60: 180 = 60 x 3, 135 = 45 x 3, 120 = 60 x 2, 90 = 30 x 3,
        # 60 = 30 x 2, 45 = 15 x 3, 30 = 15 x 2, 15. 2 Mar: due 1.8, 162 wanted: 135 (45 x 3; 4.5 <= 5.4;
        # 120 takes 6), -2.7. 16 Mar: due -0.9, 90 (not 120 = 60 x 2: bigger each time) takes 4.5 > 0.9
        # left: held (cap). 30 Mar: due 0.9, 90 (30 x 3), -3.6. 13 Apr: due -1.8, 60 (3) > 0.9 left: held
        # (cap). 27 Apr: due 0: held (pace). 11 May: due 1.8, 72 wanted: 60 (30 x 2), -1.2. 25 May: 6 >=
        # 5.4, due 0.6, 54 wanted, 2.4 left: 45 (15 x 3), -0.9. 8 Jun: 4.5 < 5.4, halved: due 0: held
        # (pace). 22 Jun: due 0.9, 36 wanted: 30 (15 x 2), -0.6. 6 Jul: due 0.3, 27 wanted: 15 (15 x 1),
        # -1.2. 20 Jul: due -0.3: held (pace). 3 Aug: due 0.6, 0 (1.5 <= 5.4).
        "45 x3, hold, 30 x3, hold, hold, 30 x2, 15 x3, hold, 15 x2, 15 x1, hold, stop",
        id="codeine 60 mg 1 tds",
    ),
    pytest.param(
        "Tapentadol 75mg tablets",
        "one tablet four times a day",
        # 300 mg x 0.4 = 120 mg OME: a step of 12 (30 mg), cap 36 (90 mg), slowed below 36. Doses each time
        # 50 or 75 (no two tablets make 75 or less): 300 = 75 x 4, 225 = 75 x 3, 200 = 50 x 4, 150 = 50 x 3,
        # 100 = 50 x 2, 75, 50. 2 Mar: due 12, 270 wanted: 225 (75 x 3; 30 <= 36; 200 takes 40), -18.
        # 16 Mar: due -6, 200 (10) > 6 left: held (cap). 30 Mar: due 6, 210 wanted: 200 (50 x 4; 10), -4.
        # 13 Apr: due 8, 180 wanted, 26 left: 150 (50 x 3; 20), -12. 27 Apr: due 0, 100 (20) > 16 left: held
        # (cap). 11 May: due 12, 120 wanted: 100 (50 x 2), -8. 25 May: 40 >= 36, due 4, 50 (20; not 75 x 1:
        # bigger each time) > 16 left: held (cap). 8 Jun: due 16, 60 wanted: 50 (50 x 1), -4. 22 Jun: 20 <
        # 36, halved: due 2, 0 (20) > 16 left: held (cap). 6 Jul: due 8, 0 (20 <= 36).
        "75 x3, hold, 50 x4, 50 x3, hold, 50 x2, hold, 50 x1, hold, stop",
        id="tapentadol 75 mg qds",
    ),
    pytest.param(
        "Oxycodone 10mg capsules",
        "two capsules twice a day",
        # 40 mg x 1.5 = 60 mg OME: a step of 6 (4 mg), cap 18 (12 mg), slowed (2 mg) below 18. Doses each
        # time 5, 10, 15, 20, once or twice a day: 40 = 20 x 2, 30 = 15 x 2, 20 = 10 x 2, 15 = 15 x 1,
        # 10 = 5 x 2, 5. 2 Mar: due 6, 36 wanted: 30 (15 x 2; 15 <= 18; 20 takes 30), -9. 16 Mar: due -3,
        # 20 (15) > 3 left: held (cap). 30 Mar: due 3, 28 wanted: 20 (10 x 2; 15 x 1 is a bigger dose each
        # time than 10), -12. 13 Apr: due -6, 10 (5 x 2) takes 15 > 3 left: held (cap). 27 Apr: due 0: held
        # (pace). 11 May: due 6, 16 wanted: 10 (5 x 2), -9. 25 May: 15 < 18, halved: due -6, 5 (7.5) > 3
        # left: held (cap). 8 Jun: due -3, 22 Jun: due 0: held (pace). 6 Jul: due 3, 8 wanted: 5 (5 x 1),
        # -4.5. 20 Jul: due -1.5, 0 (7.5) within the 10.5 left: held (pace). 3 Aug: due 1.5, 0 (7.5; 6 Jul
        # has left the window).
        "15 x2, hold, 10 x2, hold, hold, 5 x2, hold, hold, hold, 5 x1, hold, stop",
        id="oxycodone 10 mg 2 bd",
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), EACH_TIME)
def test_each_step_is_never_a_bigger_dose_each_time_than_the_step_before(
    name: str, text: str, expected: str
) -> None:
    item, plan = planned(name, text)
    before = item.daily_dose / item.doses_per_day  # the prescription's dose each time
    written = []
    for step in plan.steps:
        each = step.dose.daily_dose / step.dose.doses_per_day
        assert each <= before, (name, step)  # never a bigger dose each time than the step before
        before = each
        action = step.action.value
        written.append(
            action if action in ("hold", "stop") else f"{each.normalize():f} x{step.dose.doses_per_day}"
        )
    assert ", ".join(written) == expected
    assert plan.reaches_target, plan.blocked_reason


def test_oxycodone_20mg_three_times_a_day_is_planned_as_worked_by_hand() -> None:
    """One oxycodone 20 mg capsule three times a day (dm+d capsules 5, 10, 20 mg): 60 mg a day x 1.5
    (Opioids Aware, docs/domain/reference-facts.md) = 90 mg OME. UK defaults: a step of 10% of 90 = 9 mg OME
    (6 mg oxycodone) due every 14 days, at most 30% of 90 = 27 mg OME in any 28 days, the step halved below
    27 mg OME. A dose each time is 5, 10, 15 (10 + 5) or 20 mg, one to three times a day, never more than
    the step before's; a day's dose is taken the most times a day that make it. While something is due (what
    the steps so far have asked for, less what was taken off) a reduction is made, to the nearest dose to
    (dose - due) the cap allows; what it takes is taken off what is due, which may go below zero: ahead of
    the pace, a hold until it has caught up. "due" is before the step, then after it.

    - 2 Mar: due 9, 54 mg wanted; below 60 only 45 (15 mg x 3), 22.5 mg OME, is within the cap of 27 (40,
      20 mg twice a day, takes 30). Total 67.5; due -13.5.
    - 16 Mar: due -4.5; at most 15 mg each time: 30 (10 mg x 3), 22.5 mg OME > 27 - 22.5: held (cap); 40
      (20 mg twice a day) is a bigger dose each time.
    - 30 Mar: due 4.5, 42 wanted; 2 Mar has left the window (30 Mar - 28 days = 2 Mar, not after it): 30
      (10 mg x 3), the only dose within the cap. Total 45; due -18.
    - 13 Apr: due -9; 20 (10 mg x 2), 15 mg OME > 4.5 left: held (cap).
    - 27 Apr: due 0; 20 and 15 within the cap again, but nothing is due: held (pace).
    - 11 May: 45 >= 27, a whole step: due 9, 24 wanted; 20 (10 mg x 2; 15 is further). Total 30; due -6.
    - 25 May: 30 >= 27: due 3, 18 wanted; 12 left (15 on 11 May): 15 (5 mg x 3), 7.5 (10 takes 15). Total
      22.5; due -4.5.
    - 8 Jun: 22.5 < 27, the step halved to 4.5: due 0: held (pace).
    - 22 Jun: due 4.5, 12 wanted; 10 (5 mg x 2), 7.5 (25 May has left the window). Total 15; due -3.
    - 6 Jul: due 1.5, 9 wanted; 5 (5 mg x 1), 7.5 <= 27 - 7.5. Total 7.5; due -6.
    - 20 Jul: due -1.5: held (pace).
    - 3 Aug: due 3; 0 takes 7.5 (6 Jul has left the window): stop. Total 0 (a stop takes no units; its
      times a day stay the prescription's three).
    """
    _, plan = planned("Oxycodone 20mg capsules", "one capsule three times a day")
    summary = [
        (
            s.date.isoformat(),
            s.action.value,
            s.dose.daily_dose,
            s.dose.daily_dose / s.dose.doses_per_day,
            s.dose.doses_per_day,
            s.dose.units,
            s.reduction_mg_per_day,
            s.total_ome_mg_per_day,
        )
        for s in plan.steps
    ]
    assert plan.baseline_ome_mg_per_day == 90
    assert summary == [
        ("2026-03-02", "reduce", 45, 15, 3, ((10, 1), (5, 1)), Decimal("22.5"), Decimal("67.5")),
        ("2026-03-16", "hold", 45, 15, 3, ((10, 1), (5, 1)), 0, Decimal("67.5")),
        ("2026-03-30", "reduce", 30, 10, 3, ((10, 1),), Decimal("22.5"), 45),
        ("2026-04-13", "hold", 30, 10, 3, ((10, 1),), 0, 45),
        ("2026-04-27", "hold", 30, 10, 3, ((10, 1),), 0, 45),
        ("2026-05-11", "reduce", 20, 10, 2, ((10, 1),), 15, 30),
        ("2026-05-25", "reduce", 15, 5, 3, ((5, 1),), Decimal("7.5"), Decimal("22.5")),
        ("2026-06-08", "hold", 15, 5, 3, ((5, 1),), 0, Decimal("22.5")),
        ("2026-06-22", "reduce", 10, 5, 2, ((5, 1),), Decimal("7.5"), 15),
        ("2026-07-06", "reduce", 5, 5, 1, ((5, 1),), Decimal("7.5"), Decimal("7.5")),
        ("2026-07-20", "hold", 5, 5, 1, ((5, 1),), 0, Decimal("7.5")),
        ("2026-08-03", "stop", 0, 0, 3, (), Decimal("7.5"), 0),
    ]
    assert [n for n, s in enumerate(plan.steps, start=1) if "cap" in s.note] == [2, 4]
    assert [n for n, s in enumerate(plan.steps, start=1) if "pace" in s.note] == [5, 8, 11]
    assert plan.reaches_target


@pytest.mark.parametrize(
    "text",
    [
        "8 tablets every 24 hours",  # once a day, said: yet 8 co-codamol at once is 4 g of paracetamol
        "8 tablets q24h",
        "Take 8 tablets once a day",
        "3 tablets four times a day",  # 12 a day, 3 a time: above the BNF's 1 or 2
    ],
)
def test_a_paracetamol_combination_taken_more_than_two_at_a_time_is_not_stepped(text: str) -> None:
    """BNF, co-codamol: 1 or 2 tablets a dose. A step from 8 at once was 7 at once (3.5 g of paracetamol,
    210 mg of codeine): the prescription is to be checked, not stepped. Its OME stands (8 x 30 = 240 mg
    codeine x 0.1 = 24; 12 x 30 x 0.1 = 36)."""
    result = oral_morphine_equivalent([medicine("c", "Co-codamol 30mg/500mg tablets", text)])
    [med] = result.medications
    assert med.computable and result.total_mg_per_day in (24, 36)
    [item] = regimen_from_ome(result)
    refused = per_administration(item, med, CATALOGUE)
    assert isinstance(refused, str) and "(BNF: 1 or 2)" in refused, refused


def test_co_codamol_when_required_with_a_maximum_steps_to_fewer_doses_of_two(mr: Harness) -> None:
    """Co-codamol 30/500 "1-2 tablets every 4-6 hours when required. Maximum 8 tablets in 24 hours" (it was
    refused: no schedule). 2 a time, at most 8 a day: up to 4 times a day; 8 x 30 = 240 mg codeine x 0.1 =
    24 mg OME. 10% = 2.4 due every 14 days; at most 2 a dose, when required schedules make 6 (2 x 3), 4,
    3, 2, 1: 6 takes 6 mg OME, made on 2 Mar (2.4 due; within 30% of 24 = 7.2, 4 would take 12). Two
    tablets up to three times a day: 6 x 14 = 84."""
    proposal = first_proposal(
        mr,
        "Co-codamol 30mg/500mg tablets",
        "1-2 tablets every 4-6 hours when required. Maximum 8 tablets in 24 hours",
    )
    [dosage] = proposal["dosageInstruction"]
    assert dosage["asNeededBoolean"] is True
    assert dosage["timing"]["repeat"]["frequency"] == 3
    assert dosage["doseAndRate"] == [{"doseQuantity": {"value": 2, "unit": "tablet"}}]
    assert proposal["dispenseRequest"]["quantity"] == {"value": 84, "unit": "tablet"}


def test_a_patch_changed_every_48_hours_is_not_proposed_at_72(mr: Harness) -> None:
    """Through $propose-taper: the prescription's own interval reaches the planner (a fentanyl patch
    changed every 48 hours was proposed "changed every 72 hours")."""
    gp = patient_bundle(
        "p1", medicine("x", "Fentanyl 50micrograms/hour transdermal patches", "one every 48 hours")
    )
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp, time=NOW)
    with pytest.raises(Unprocessable, match="every 48 hours by its prescription"):
        mr.api(lambda s: propose_taper(s, "Patient/p1", TaperPolicy(), START, "uk-opioids-aware"))


def test_a_dose_below_1_mg_is_written_in_micrograms_and_reads_back(mr: Harness) -> None:
    """Buprenorphine 200 microgram sublingual tablets, one four times a day: 0.8 mg a day x 40 (Opioids
    Aware) = 32 mg OME; 10% = 3.2 due every 14 days; whole 200 microgram tablets make 0.6 mg a day (three
    times a day), 8 mg OME off, made on 2 Mar (3.2 due; within 30% of 32 = 9.6, 0.4 mg would take 16). The
    BNF's prescription writing: below 1 mg in micrograms ("200
    micrograms", never "0.2 mg", a tenfold error away from the 2 mg tablet); read back, 0.6 x 40 = 24."""
    proposal = first_proposal(
        mr, "Buprenorphine 200microgram sublingual tablets", "one tablet four times a day"
    )
    [dosage] = proposal["dosageInstruction"]
    assert dosage["text"].startswith(
        "200 micrograms buprenorphine three times a day (600 micrograms a day): "
        "1 x 200 microgram tablet each dose"
    )
    assert " 0.2 mg" not in dosage["text"] and "0.6 mg" not in dosage["text"]
    assert oral_morphine_equivalent([proposal]).total_mg_per_day == 24
    [order] = step_orders(  # type: ignore[misc]
        Decimal("0.6"), BUP_200, CATALOGUE.family_of(BUP_200), doses_per_day=3, days=14
    )
    assert order.instruction == (
        "Take one 200 microgram tablet three times a day (200 micrograms a dose, 600 micrograms a day)"
    )
