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
from services.medreview.domain.taper import RegimenItem, TaperPolicy, plan_taper, regimen_from_ome
from services.medreview.workflow import on_medication_list_synced, propose_taper
from services.medreview.workflow.planning import per_administration
from shared.contracts import MEDICATION_LIST_SYNCED_V1
from shared.terminology import load_product_catalogue
from tests.unit.medreview.medreview_support import NOW, Harness, database, medicine, patient_bundle

CATALOGUE = load_product_catalogue()
OXY_5 = next(p for p in CATALOGUE.products if p.name == "Oxycodone 5mg capsules")
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
    """20 mg a day x 1.5 = 30 mg OME; a step is 10% of 30 = 3 mg OME (2 mg oxycodone); the cap is 30% of 30
    = 9 mg OME in any 28 days.
    - 2 Mar: 18 mg wanted; 15 mg (one 5 mg capsule three times a day) takes 7.5 mg OME <= 9.
    - 16 Mar: 10 mg would take 7.5 more, 15 in 28 days > 9: held.
    - 30 Mar: 2 Mar has left the window (30 Mar - 28 days = 2 Mar, not after it): 10 mg, twice a day.
    - 13 Apr: held (7.5 on 30 Mar).
    - 27 Apr: 5 mg, once a day (15 mg OME, not below 30% of 30 = 9: no slowing).
    - 11 May: held.
    - 25 May: 7.5 mg OME is below 9: step halved, but only 0 is below 5 mg: stop (7.5 <= 9)."""
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
        ("2026-04-27", "reduce", 5, 1, ((5, 1),)),
        ("2026-05-11", "hold", 5, 1, ((5, 1),)),
        ("2026-05-25", "stop", 0, 4, ()),
    ]
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
    day). Step 1 (above): one capsule up to three times a day, 42 capsules for 14 days, Schedule 2."""
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
    day), 3, 2, 1. 10% of 24 = 2.4 mg OME wanted (24 mg codeine); the nearest below 240 is 180 mg, 6 mg OME,
    within the cap of 30% of 24 = 7.2. 6 x 14 = 84 tablets; codeine tablets are Schedule 5, so no
    controlled-drug wording."""
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
    sublingual buprenorphine) = 64 mg OME. 10% of 64 = 6.4 mg OME wanted (0.16 mg); the cap is 30% of 64 =
    19.2. Whole 200 and 400 microgram tablets, never a bigger dose than 400 micrograms each time, make
    1.2 (400 x 3), 0.8, 0.6, 0.4, 0.2 mg a day below 1.6: the nearest to 1.44 is 1.2 mg, 16 mg OME <= 19.2.
    One 400 microgram tablet three times a day for 14 days: 42 tablets; buprenorphine is Schedule 3."""
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
