"""A modified-release opioid taken once a day is stepped only in strengths made as a once-daily product.

dm+d (shared/terminology/data/dmd-opioid-codes.csv): MXL capsules (morphine, once a day) are made in 30, 60,
90, 120, 150 and 200 mg; the same VMPs of 10 and 100 mg are Zomorph's alone, a 12-hourly brand: taken once a
day they leave the patient uncovered for half the day. Zydol XL and Tradorec XL (tramadol, once a day): 100,
150, 200, 300 and 400 mg; 50 and 75 mg are 12-hourly SR tablets only. Figures by hand with the UK defaults
(10% of the starting OME every 14 days, at most 30% of it in any 28 days, halved below 30% of it) and
Opioids Aware's factors (docs/domain/reference-facts.md: morphine 1, tramadol 0.1).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from services.medreview.domain.taper import TaperPolicy
from services.medreview.workflow import on_medication_list_synced, propose_taper
from shared.contracts import MEDICATION_LIST_SYNCED_V1
from shared.fhir import Unprocessable
from shared.terminology import load_product_catalogue
from tests.unit.medreview.medreview_support import NOW, Harness, database, medicine, patient_bundle

START = date(2026, 3, 2)


@pytest.fixture
def mr(medreview_db_url: str) -> Iterator[Harness]:
    harness = Harness(database(medreview_db_url))
    yield harness
    harness.engine.dispose()


def strengths(steps: list[list[tuple[str, str]]]) -> list[list[object]]:
    """Each step's products' strengths, their codes being VMPs' or (by brand) AMPs' of those VMPs."""
    catalogue = load_product_catalogue()
    found = []
    for step in steps:
        vmps = [
            catalogue.opioid_codes[code].vmp if code in catalogue.opioid_codes else code for code, _ in step
        ]
        found.append(sorted(catalogue.lookup(v).strength for v in vmps))  # type: ignore[union-attr]
    return found


def proposed(mr: Harness, name: str, text: str) -> list[list[tuple[str, str]]]:
    """Each reduction's proposals as (product, dosage text), in step order."""
    gp = patient_bundle("p1", medicine("x", name, text))
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp, time=NOW)
    careplan = mr.api(lambda s: propose_taper(s, "Patient/p1", TaperPolicy(), START, "uk-opioids-aware"))
    found = []
    for step in mr.steps(careplan):
        if step.proposal is None or step.action != "reduce":
            continue
        requests = [mr.read(ref) for ref in step.proposals]
        found.append([(r["medicationCodeableConcept"]["coding"][0]["code"], r["dosageInstruction"][0]["text"])
                      for r in requests])  # fmt: skip
    return found


def test_mxl_120mg_once_a_day_steps_in_once_daily_strengths_only(mr: Harness) -> None:
    """MXL 120 mg once a day: 120 mg OME; a step of 12 wanted, at most 36 in any 28 days. Once-daily doses
    below 120 of at most four capsules: 90 (60 + 30), 60, 30. 2 Mar: 108 wanted, 90 (30 off). 16 Mar: held
    (60 would take 60 in 28 days). 30 Mar: 60. 27 Apr: 30. Every step is made of MXL's strengths (it was
    100 + 10 mg: Zomorph's 10 mg once a day)."""
    catalogue = load_product_catalogue()
    steps = proposed(mr, "MXL 120mg capsules", "one capsule once daily")
    assert strengths(steps) == [[30, 60], [60], [30]]
    # by brand (BNF: prescribe modified-release opioids by brand): MXL's own AMPs, not the VMPs it shares
    names = [[catalogue.opioid_codes[code].term for code, _ in step] for step in steps]
    assert names == [["MXL 60mg capsules", "MXL 30mg capsules"], ["MXL 60mg capsules"], ["MXL 30mg capsules"]]
    assert all("once a day" in text and "of MXL" in text for step in steps for _, text in step)


def test_a_once_daily_tramadol_never_steps_to_a_12_hourly_strength(mr: Harness) -> None:
    """Zydol XL 400 mg once a day: 40 mg OME; steps of 4 (40 mg), at most 12 in 28 days. Once-daily doses
    below 400 of XL strengths: 350 (200 + 150), 300, 250 (150 + 100), 200, 150, 100. No step is of the 50
    or 75 mg SR tablets (350 was 300 + 50)."""
    made = strengths(proposed(mr, "Zydol XL 400mg tablets", "one tablet once daily"))
    assert made and {s for step in made for s in step} <= {100, 150, 200, 300, 400}, made
    assert made[0] == [150, 200]


def test_a_12_hourly_brand_taken_at_night_keeps_its_own_strengths(mr: Harness) -> None:
    """Longtec 20 mg (a 12-hourly oxycodone brand) one at night: its VMP is also Onexila XL's, but the brand
    is not once-daily, so it steps in its own family as before (it was blocked): 20 x 1.5 = 30 mg OME; steps
    of 3 wanted, at most 9 in 28 days. 2 Mar: 18 mg wanted, 15 (7.5 off); 30 Mar: 10; 27 Apr: 5; then stop."""
    assert strengths(proposed(mr, "Longtec 20mg modified-release tablets", "one at night")) == [
        [15],
        [10],
        [5],
    ]


def test_a_once_daily_brands_days_total_is_taken_once_a_day(mr: Harness) -> None:
    """MXL 60 mg "TWO To Be Taken Each Day": MXL is taken once a day (its SmPC), so 2 x 60 = 120 mg once a
    day (it was refused as a day's total with no frequency), stepped as MXL 120 is: 90, 60, 30."""
    assert strengths(proposed(mr, "MXL 60mg capsules", "TWO To Be Taken Each Day")) == [[30, 60], [60], [30]]


def test_a_generic_once_daily_product_whose_brand_is_not_known_keeps_to_once_daily_strengths(
    mr: Harness,
) -> None:
    """Tramadol 200 mg modified-release tablets once a day, by the generic name: the VMP is Zydol XL's and
    Tradorec XL's (once a day) as well as Zydol SR's (12-hourly), and which is dispensed is not known, so the
    steps keep to the strengths made once a day: 20 mg OME (200 x 0.1); steps of 2 (20 mg) wanted, at most
    6 (60 mg) in 28 days: 150, then 100 (never 75 or 50 mg, made as 12-hourly tablets only)."""
    made = strengths(proposed(mr, "Tramadol 200mg modified-release tablets", "one tablet once daily"))
    assert made and {s for step in made for s in step} <= {100, 150, 200, 300, 400}, made


def test_a_once_daily_brand_not_made_in_a_strength_is_given_another_once_daily_brands(mr: Harness) -> None:
    """Zamadol 24hr 200 mg once a day: its 100 mg step is no Zamadol 24hr product; the VMP's once-daily AMP
    is Tradorec XL 100 mg (dm+d), proposed rather than the generic product Zydol SR 100 shares."""
    catalogue = load_product_catalogue()
    steps = proposed(mr, "Zamadol 24hr 200mg modified-release tablets", "one tablet once daily")
    names = [catalogue.opioid_codes[code].term for step in steps for code, _ in step]
    assert "Tradorec XL 100mg tablets" in names, names
    assert all(catalogue.made_once_daily(name) for name in names), names


@pytest.mark.parametrize(
    "name", ["MXL 120mg modified-release capsules", "MXL 120mg capsules (Napp Pharmaceuticals Ltd)"]
)
def test_mxl_written_otherwise_than_its_dmd_name_is_proposed_as_mxl(mr: Harness, name: str) -> None:
    """MXL (three letters, no brand in the brand list) written as GP systems write it: MXL's own AMPs, and
    every text names them, the orders taken together included."""
    catalogue = load_product_catalogue()
    steps = proposed(mr, name, "one capsule once daily")
    first = [catalogue.opioid_codes[code].term for code, _ in steps[0]]
    assert first == ["MXL 60mg capsules", "MXL 30mg capsules"]
    assert all("Morphine" not in text for step in steps for _, text in step)


@pytest.mark.parametrize(
    ("name", "text"),
    [("MXL 60mg capsules", "1 capsule twice a day"), ("Zydol XL 200mg tablets", "1 twice a day")],
)
def test_a_once_daily_brand_prescribed_more_often_is_not_stepped(mr: Harness, name: str, text: str) -> None:
    """MXL and Zydol XL are licensed once a day (SmPCs): twice a day is for the prescriber to check; it was
    stepped as MXL 30 mg twice a day with Zomorph's 10 mg (12-hourly) beside it."""
    gp = patient_bundle("p1", medicine("x", name, text))
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp, time=NOW)
    with pytest.raises(Unprocessable, match="made to be taken once a day"):
        mr.api(lambda s: propose_taper(s, "Patient/p1", TaperPolicy(), START, "uk-opioids-aware"))
