"""A dose in mg made of several strengths: not a whole number of one product's units, or the same dose written
on each strength's item. Counting it on each item would count it twice (a pharmacist's review: Zomorph 30 mg
"40mg bd" + Zomorph 10 mg "40mg bd" gave 160 mg a day, complete, for a patient taking 80).

Expected figures are worked by hand: morphine and oxycodone factors from the UK Opioids Aware table
(morphine oral 1, oxycodone oral 1.5, tramadol oral 0.1); whether a form is divided from its SmPC (Zomorph,
MST Continus and OxyContin are swallowed whole; capsules are not divided; IR tablets may be halved, as the
engine already reads "half a tablet").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.medicines.ome import oral_morphine_equivalent
from shared.terminology import DrugClass, load_product_catalogue


def _request(product: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": {"text": product},
        "dosageInstruction": [{"text": text}],
    }


@pytest.mark.parametrize(
    ("product", "text", "why"),
    [
        ("Zomorph 30mg modified-release capsules", "40mg bd", "40 / 30 = 1.33 capsules"),
        ("MST Continus 10mg tablets", "15mg bd", "15 / 10 = 1.5 MR tablets, swallowed whole"),
        ("OxyContin 10mg modified-release tablets", "25mg bd", "25 / 10 = 2.5 MR tablets"),
        ("Oxycodone 10mg capsules", "15mg every 4 hours prn", "15 / 10 = 1.5 capsules"),
        ("Tramadol 50mg capsules", "75mg qds", "75 / 50 = 1.5 capsules"),
        ("Oxycodone 10mg tablets", "12mg qds", "12 / 10 = 1.2 IR tablets: not a whole or half tablet"),
    ],
)
def test_a_mass_that_is_not_a_whole_number_of_the_products_units_is_refused(
    product: str, text: str, why: str
) -> None:
    result = oral_morphine_equivalent([_request(product, text)])
    [med] = result.medications
    assert not med.computable and result.incomplete, why
    assert med.reason_code == "dosage:dose-part-unit"
    assert "it may be written on each" in (med.reason or "")
    assert result.total_mg_per_day == 0


@pytest.mark.parametrize(
    ("product", "text", "ome", "why"),
    [
        ("Zomorph 10mg modified-release capsules", "40mg bd", "80", "40 / 10 = 4 capsules; 80 mg x 1"),
        ("Oxycodone 10mg tablets", "15mg qds", "90", "1.5 IR tablets (halved); 60 mg x 1.5 = 90"),
        ("MST Continus 10mg tablets", "20mg bd", "40", "2 MR tablets; 40 mg x 1"),
    ],
)
def test_a_mass_of_whole_units_or_half_an_ir_tablet_is_read(
    product: str, text: str, ome: str, why: str
) -> None:
    result = oral_morphine_equivalent([_request(product, text)])
    assert not result.incomplete, why
    assert result.total_mg_per_day == Decimal(ome), why


def test_a_step_naming_the_strengths_that_make_its_dose_is_read() -> None:
    # as this service writes a step: 1 x 15 mg + 1 x 10 mg = 25 mg a dose, named; 25 x 2 = 50 mg; morphine x 1
    text = "25 mg morphine twice a day (50 mg a day): 1 x 15 mg tablet + 1 x 10 mg tablet each dose"
    result = oral_morphine_equivalent([_request("Morphine sulfate 15mg modified-release tablets", text)])
    assert not result.incomplete
    assert result.total_mg_per_day == Decimal("50")


@pytest.mark.parametrize(
    ("items", "at_least", "why"),
    [
        (
            [
                ("Zomorph 30mg modified-release capsules", "40mg bd"),
                ("Zomorph 10mg modified-release capsules", "40mg bd"),
            ],
            "0",
            "the patient takes 40 mg bd (80 a day), or 80 mg bd if each is its own: counting both gave 160",
        ),
        (
            [("MST Continus 10mg tablets", "15mg bd"), ("MST Continus 5mg tablets", "15mg bd")],
            "0",
            "15 mg bd made of 10 + 5 (30 a day); both counted gave 60",
        ),
        (
            [
                ("OxyContin 10mg modified-release tablets", "25mg bd"),
                ("OxyContin 5mg modified-release tablets", "25mg bd"),
            ],
            "0",
            "25 mg bd (50 mg x 1.5 = 75 a day); both counted gave 150",
        ),
        (
            [("MST Continus 10mg tablets", "20mg bd"), ("MST Continus 5mg tablets", "20mg bd")],
            "0",
            "each is whole tablets (2 x 10, 4 x 5) but the same 20 mg bd on both may be one dose of 40 a day",
        ),
        (
            [
                ("MST Continus 10mg tablets", "20mg bd"),
                ("MST Continus 5mg tablets", "20mg bd"),
                ("Co-codamol 30mg/500mg tablets", "2 qds"),
            ],
            "24",
            "the two MST items refused together; co-codamol 2 x 4 x 30 = 240 mg codeine x 0.1 = 24 counts",
        ),
    ],
)
def test_the_same_mass_written_on_two_items_of_one_ingredient_is_refused_together(
    items: list[tuple[str, str]], at_least: str, why: str
) -> None:
    result = oral_morphine_equivalent([_request(p, t) for p, t in items])
    assert result.incomplete, why
    assert result.total_mg_per_day == Decimal(at_least), why
    same = [m for m in result.medications if m.reason_code == "dosage:dose-same-mass-on-several-items"]
    assert len(same) == 2
    assert all(
        "written on 2 items of" in (m.reason or "") and "both strengths" in (m.reason or "") for m in same
    )


def test_different_doses_on_two_strengths_are_each_counted() -> None:
    # MST 10 mg "20mg bd" (40) + MST 5 mg "5mg bd" (10): different doses, nothing to refuse; 50 x 1 = 50
    result = oral_morphine_equivalent(
        [_request("MST Continus 10mg tablets", "20mg bd"), _request("MST Continus 5mg tablets", "5mg bd")]
    )
    assert not result.incomplete
    assert result.total_mg_per_day == Decimal("50")


def test_the_same_count_of_units_on_two_strengths_is_each_counted() -> None:
    # "1 bd" of 30 mg and "1 bd" of 10 mg are counts of each product's own units: 60 + 20 = 80
    result = oral_morphine_equivalent(
        [
            _request("Zomorph 30mg modified-release capsules", "1 bd"),
            _request("Zomorph 10mg modified-release capsules", "1 bd"),
        ]
    )
    assert not result.incomplete
    assert result.total_mg_per_day == Decimal("80")


def _families() -> list[tuple[str, str]]:
    """Pairs of names of two strengths of one solid opioid family (the same ingredient, form and release)."""
    catalogue = load_product_catalogue()
    pairs = set()
    for product in catalogue.products:
        if product.drug_class is not DrugClass.OPIOID or product.per_unit not in ("tablet", "capsule"):
            continue
        for other in catalogue.family_of(product):
            if other.strength_per_unit > product.strength_per_unit and not other.with_ingredients:
                pairs.add((product.name, other.name))
    return sorted(pairs)


@settings(max_examples=60)
@given(
    st.sampled_from(_families()),
    st.integers(min_value=1, max_value=24),
    st.sampled_from(("od", "bd", "tds", "qds", "every 4 hours")),
)
def test_the_same_mass_on_two_strengths_of_one_family_is_never_a_complete_total(
    pair: tuple[str, str], units: int, frequency: str
) -> None:
    """Whatever the mass and the frequency, the same dose in mg on two strengths' items is never added up."""
    weaker = load_product_catalogue()
    product = next(p for p in weaker.products if p.name == pair[0])
    mass = product.strength_per_unit * units
    text = f"{mass.normalize():f}mg {frequency}"
    result = oral_morphine_equivalent([_request(pair[0], text), _request(pair[1], text)])
    assert result.incomplete
    assert all(not m.computable for m in result.medications)


@pytest.mark.parametrize(
    ("product", "text"),
    [
        # a pharmacist's review (2026-12-07): counted 15 and 10 mg OME, complete, though the SmPCs (section
        # 4.2) say a modified-release tablet or capsule is swallowed whole, never divided; a quarter of an
        # immediate-release tablet is no halved tablet either
        ("OxyContin 10mg modified-release tablets", "half a tablet twice a day"),
        ("Zomorph 10mg modified-release capsules", "half a capsule twice a day"),
        ("Tramadol 50mg capsules", "half a capsule four times a day"),
        ("Oxycodone 10mg tablets", "0.25 tablet four times a day"),
    ],
)
def test_part_of_a_unit_that_is_swallowed_whole_is_refused(product: str, text: str) -> None:
    result = oral_morphine_equivalent([_request(product, text)])
    [med] = result.medications
    assert not med.computable and result.incomplete
    assert med.reason_code == "dosage:dose-part-unit"


def test_half_an_immediate_release_tablet_is_read() -> None:
    """Half a 10 mg oxycodone tablet four times a day: 4 x 5 mg = 20 mg, x 1.5 (Opioids Aware) = 30."""
    result = oral_morphine_equivalent([_request("Oxycodone 10mg tablets", "half a tablet four times a day")])
    assert result.total_mg_per_day == 30 and not result.incomplete
