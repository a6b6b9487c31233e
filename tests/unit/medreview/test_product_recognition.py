"""Opioid products recognised at every dm+d level, by code or by name, brands and packs included.

Expected products are read from the dm+d names in shared/terminology/data/dmd-opioid-codes.csv (OpenSAFELY
codelists): an AMP is its VMP; the strength of a brand is one of its VMPs'.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shared.medicines.identify import UNRECOGNISED_OPIOID, identify_medication
from shared.medicines.ome import oral_morphine_equivalent
from shared.terminology import DrugClass, load_product_catalogue

SNOMED = "http://snomed.info/sct"
DMD = "https://dmd.nhs.uk"


def resource(text: str | None = None, code: str | None = None, system: str = SNOMED) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if text:
        concept["text"] = text
    if code:
        concept["coding"] = [{"system": system, "code": code}]
    return {"resourceType": "MedicationRequest", "status": "active", "medicationCodeableConcept": concept}


@pytest.mark.parametrize(
    ("name", "ingredient", "strength", "per_unit", "modified"),
    [
        ("Abstral 100microgram sublingual tablets", "fentanyl", "0.1", "tablet", False),
        ("Solpadol 30mg/500mg caplets", "codeine", "30", "tablet", False),
        ("Tylex capsules", "codeine", "30", "capsule", False),  # Tylex is only 30/500 capsules
        ("Zapain 30mg/500mg tablets", "codeine", "30", "tablet", False),
        ("Kapake 30mg/500mg tablets", "codeine", "30", "tablet", False),
        ("Nurofen Plus tablets", "codeine", "12.8", "tablet", False),  # ibuprofen 200mg / codeine 12.8mg
        ("Zydol SR 100mg tablets", "tramadol", "100", "tablet", True),
        ("Zydol XL 150mg tablets", "tramadol", "150", "tablet", True),
        ("Tramquel SR 50mg capsules", "tramadol", "50", "capsule", True),
        ("Maxitram SR 50mg capsules", "tramadol", "50", "capsule", True),
        ("Zamadol SR 50mg capsules", "tramadol", "50", "capsule", True),
        ("MST Continus 30mg tablets", "morphine", "30", "tablet", True),
        ("Zomorph 10mg modified-release capsules", "morphine", "10", "capsule", True),
        ("Longtec 20mg tablets", "oxycodone", "20", "tablet", True),
        ("Shortec 5mg capsules", "oxycodone", "5", "capsule", False),
        ("OxyNorm 10mg capsules", "oxycodone", "10", "capsule", False),
        ("Targinact 10mg/5mg prolonged-release tablets", "oxycodone", "10", "tablet", True),
        ("BuTrans 10micrograms/hour transdermal patches", "buprenorphine", "10", "patch", False),
        ("Transtec 35micrograms/hour transdermal patches", "buprenorphine", "35", "patch", False),
        ("Matrifen 25micrograms/hour transdermal patches", "fentanyl", "25", "patch", False),
        ("Palexia SR 50mg tablets", "tapentadol", "50", "tablet", True),
        ("Oramorph 10mg/5ml oral solution", "morphine", "2", "ml", False),
        ("Sevredol 10mg tablets", "morphine", "10", "tablet", False),
        ("DF118 Forte 40mg tablets", "dihydrocodeine", "40", "tablet", False),
        ("Eroset 500mg/10mg tablets", "dihydrocodeine", "10", "tablet", False),  # paracetamol written first
    ],
)
def test_a_brand_named_in_text_is_its_generic_product(
    name: str, ingredient: str, strength: str, per_unit: str, modified: bool
) -> None:
    med = identify_medication(resource(name), load_product_catalogue())
    assert med.product is not None, med.problem
    product = med.product
    assert (product.ingredient, product.strength_per_unit, product.per_unit) == (
        ingredient,
        Decimal(strength),
        per_unit,
    )
    assert product.modified_release is modified


@pytest.mark.parametrize("system", [SNOMED, DMD])
def test_an_amp_code_is_its_vmp_under_either_system(system: str) -> None:
    # 22785311000001107: "Co-codamol 30mg/500mg caplets" (AMP) of VMP 42009811000001101 (tablets)
    med = identify_medication(resource(code="22785311000001107", system=system), load_product_catalogue())
    assert med.product is not None and med.product.code == "42009811000001101"
    assert med.identified_by == "code" and med.code == "22785311000001107"


def test_a_pack_display_is_read_by_its_name() -> None:
    # an AMPP display: the pack size after the product name does not change the product
    med = identify_medication(
        resource("Zomorph 30mg modified-release capsules 60 capsule", code="1234567890"),
        load_product_catalogue(),
    )
    assert med.product is not None
    assert (med.product.strength_per_unit, med.product.per_unit) == (30, "capsule")


def test_an_opioid_code_whose_product_cannot_be_read_is_an_unrecognised_opioid_not_a_zero() -> None:
    # 14610811000001109: "Kaolin and Morphine mixture" (VMP): morphine, strength not in its name
    result = oral_morphine_equivalent([resource(code="14610811000001109")])
    [med] = result.medications
    assert (med.reason_code, med.ingredient, med.computable) == (UNRECOGNISED_OPIOID, "morphine", False)
    assert result.incomplete


@pytest.mark.parametrize(
    "name",
    [
        "Pethidine 50mg tablets",
        "Meptazinol 200mg tablets",
        "Pentazocine 25mg capsules",
        "Dipipanone 10mg / Cyclizine 30mg tablets",
        "Levorphanol tablets",
        "Diamorphine 10mg tablets",
        "Hydromorphone 1.3mg capsules",
        "Morphine sulfate suppositories",
        "Zydol 77mg tablets",  # a strength no Zydol product has: not guessed
    ],
)
def test_every_opioid_ingredient_is_recognised_and_never_counted_as_zero(name: str) -> None:
    dosed = {**resource(name), "dosageInstruction": [{"text": "one twice a day"}]}
    result = oral_morphine_equivalent([dosed])
    [med] = result.medications
    assert med.identified is not None and med.identified.drug_class is DrugClass.OPIOID
    assert med.computable or result.incomplete


def test_a_medicine_the_service_does_not_assess_is_listed_as_not_assessed() -> None:
    result = oral_morphine_equivalent([resource("Omeprazole 20mg capsules")])
    assert result.medications == () and not result.incomplete
    assert [o.name for o in result.not_assessed] == ["Omeprazole 20mg capsules"]


def test_an_opioid_substance_code_alone_is_an_unrecognised_opioid_not_an_unknown_product() -> None:
    # 387024006: Oxycodone hydrochloride (substance), OpenPrescribing's opioid OME table
    result = oral_morphine_equivalent([resource(code="387024006")])
    [med] = result.medications
    assert (med.reason_code, med.ingredient) == (UNRECOGNISED_OPIOID, "oxycodone") and result.incomplete


@pytest.mark.parametrize(
    "name",
    [
        "Nurofen 200mg tablets",  # ibuprofen: Nurofen Plus is the codeine product
        "Solpadeine Headache soluble tablets",  # paracetamol and caffeine
        "Panadol 500mg tablets",
        "Migraine Relief tablets",  # a phrase, not a brand: other makers' products share it
        "Boots Ibuprofen 200mg tablets",
    ],
)
def test_a_non_opioid_sharing_words_with_an_opioid_brand_is_not_an_opioid(name: str) -> None:
    assert identify_medication(resource(name), load_product_catalogue()).drug_class is None


# UK opioid brands (aim-rsf/drug-lists, CC BY 4.0) that a pharmacist's held-out check found counted as
# non-opioids when written without a dm+d strength that matches one of their AMPs.
@pytest.mark.parametrize(
    ("brand", "ingredient"),
    [
        ("Tramquel 100mg capsules", "tramadol"),
        ("Invodol tablets", "tramadol"),
        ("Zytram SR 150mg tablets", "tramadol"),
        ("Morcap SR 20mg capsules", "morphine"),
        ("Prefibin 8mg sublingual tablets", "buprenorphine"),
        ("Sixmo 74.2mg implant", "buprenorphine"),
        ("Metharose 1mg/ml oral solution", "methadone"),
        ("Eptadone 5mg/ml oral solution", "methadone"),
        ("Fenhuma 100microgram sublingual tablets", "fentanyl"),
        ("Ayendi 720micrograms/actuation nasal spray", "diamorphine"),
        ("Proladone 30mg suppositories", "oxycodone"),
        ("Tapimio 50mg modified-release tablets", "tapentadol"),
        ("Meptid 200mg tablets", "meptazinol"),
        ("Migraleve Pink tablets", "codeine"),
        ("Syndol Headache Relief tablets", "codeine"),
        ("Panadeine tablets", "codeine"),
    ],
)
def test_an_opioid_brand_is_never_a_non_opioid(brand: str, ingredient: str) -> None:
    med = identify_medication(resource(brand), load_product_catalogue())
    assert med.drug_class is DrugClass.OPIOID and med.ingredient == ingredient
    result = oral_morphine_equivalent([{**resource(brand), "dosageInstruction": [{"text": "1 daily"}]}])
    assert len(result.medications) == 1 and not result.others


def test_solpadeine_plus_and_migraleve_pink_have_their_codeine_strength() -> None:
    # Solpadeine Plus and Migraleve Pink: codeine phosphate 8 mg a tablet (SmPC); 2 qds = 8 x 8 = 64 mg x 0.1
    for name in ("Solpadeine Plus tablets", "Migraleve Pink tablets"):
        result = oral_morphine_equivalent([{**resource(name), "dosageInstruction": [{"text": "2 qds"}]}])
        assert result.total_mg_per_day == Decimal("6.40") and not result.incomplete, name


@pytest.mark.parametrize(
    "concept",
    [
        # the code of co-codamol 8mg/500mg tablets (42010211000001106) shown as 30mg/500mg: 24 or 6.4 mg OME?
        {
            "coding": [{"system": SNOMED, "code": "42010211000001106"}],
            "text": "Co-codamol 30mg/500mg tablets",
        },
        {
            "coding": [
                {"system": SNOMED, "code": "42010211000001106", "display": "Co-codamol 30mg/500mg tablets"}
            ]
        },
        # the code of co-codamol 30mg/500mg tablets named as dihydrocodeine
        {"coding": [{"system": SNOMED, "code": "42009811000001101"}], "text": "Dihydrocodeine 30mg tablets"},
    ],
)
def test_a_code_whose_name_says_another_opioid_product_is_not_counted(concept: dict[str, Any]) -> None:
    request = {**resource(), "medicationCodeableConcept": concept, "dosageInstruction": [{"text": "2 qds"}]}
    result = oral_morphine_equivalent([request])
    [med] = result.medications
    assert not med.computable and med.reason_code == UNRECOGNISED_OPIOID and result.incomplete


def test_a_code_whose_name_agrees_is_counted() -> None:
    # co-codamol 8mg/500mg, 2 qds: 8 x 8 = 64 mg codeine x 0.1 = 6.4
    concept = {
        "coding": [{"system": SNOMED, "code": "42010211000001106", "display": "Co-codamol 8mg/500mg tablets"}]
    }
    result = oral_morphine_equivalent(
        [{**resource(), "medicationCodeableConcept": concept, "dosageInstruction": [{"text": "2 qds"}]}]
    )
    assert result.total_mg_per_day == Decimal("6.40") and not result.incomplete


def test_oral_unit_dose_vials_are_oral() -> None:
    # Oramorph 10mg/5ml oral solution unit dose vials, 5 ml qds: 20 ml x 2 mg/ml = 40 mg morphine x 1
    name = "Morphine sulfate 10mg/5ml oral solution unit dose vials"
    result = oral_morphine_equivalent([{**resource(name), "dosageInstruction": [{"text": "5ml qds"}]}])
    assert result.total_mg_per_day == Decimal("40.00") and not result.incomplete


# VTM codes and names from shared/terminology/data/dmd-opioid-vtms.csv (NHSBSA dm+d VTM file, as stored in
# ebmdatalab/openprescribing): 73572009 Morphine, 412556009 Co-codamol (previously 346608002),
# 108507005 Tramadol.
VTMS = [
    ("73572009", "morphine"),
    ("412556009", "codeine"),
    ("346608002", "codeine"),
    ("108507005", "tramadol"),
]


@pytest.mark.parametrize("system", [SNOMED, DMD])
@pytest.mark.parametrize(("code", "ingredient"), VTMS)
def test_a_vtm_code_alone_is_an_opioid_whose_dose_is_refused_with_the_reason(
    code: str, ingredient: str, system: str
) -> None:
    dosed = {**resource(code=code, system=system), "dosageInstruction": [{"text": "one twice a day"}]}
    result = oral_morphine_equivalent([dosed])
    [med] = result.medications
    assert (med.reason_code, med.ingredient, med.computable) == (UNRECOGNISED_OPIOID, ingredient, False)
    assert med.ome_mg_per_day is None and result.incomplete
    assert "VTM" in (med.reason or "") and "no strength" in (med.reason or "")


def test_a_vtm_code_with_text_naming_a_product_of_its_ingredient_is_that_product() -> None:
    # Co-codamol 30mg/500mg: two tablets four times a day = 8 x 30 mg = 240 mg codeine; x 0.1 = 24 mg OME
    dosed = {
        **resource("Co-codamol 30mg/500mg tablets", code="412556009"),
        "dosageInstruction": [{"text": "two four times a day"}],
    }
    result = oral_morphine_equivalent([dosed])
    [med] = result.medications
    assert (med.daily_dose, med.ome_mg_per_day) == (Decimal(240), Decimal("24.00"))
    assert not result.incomplete


@pytest.mark.parametrize("text", ["Oxycodone 5mg capsules", "Morphine sulfate 10mg tablets"])
def test_a_vtm_code_whose_text_names_another_opioid_is_refused(text: str) -> None:
    # the code says co-codamol (codeine); the text another opioid: which one is taken is not certain
    dosed = {**resource(text, code="412556009"), "dosageInstruction": [{"text": "one four times a day"}]}
    result = oral_morphine_equivalent([dosed])
    [med] = result.medications
    assert (med.reason_code, med.computable) == (UNRECOGNISED_OPIOID, False) and result.incomplete
    assert "Co-codamol" in (med.reason or "")


def test_the_vtm_data_names_its_source_and_every_opioid_ingredient() -> None:
    catalogue = load_product_catalogue()
    terms = {v.term for v in catalogue.vtms.values()}
    expected = {"Morphine", "Co-codamol", "Co-dydramol", "Tramadol", "Tapentadol", "Oxycodone", "Fentanyl",
                "Buprenorphine", "Methadone", "Dihydrocodeine", "Hydromorphone", "Pethidine"}  # fmt: skip
    assert expected <= terms
    assert all(
        catalogue.drug_class(i) is DrugClass.OPIOID for v in catalogue.vtms.values() for i in v.ingredients
    )
    # no VTM is also a product code: a VTM never resolves to a strength
    assert not set(catalogue.vtms) & (set(catalogue.by_code) | set(catalogue.opioid_codes))


@pytest.mark.parametrize(
    ("pack", "dose", "mg_per_day"),
    [
        # AMPP and VMPP displays (dm+d pack names: product, supplier in brackets, pack size): no pack code has
        # a public source here, so the pack is read by its name. By hand: dose x strength x times a day.
        ("Zapain 30mg/500mg tablets (100 tablet)", "two four times a day", "240"),  # 2 x 30 x 4
        ("Co-codamol 30mg/500mg tablets 100 tablet", "two four times a day", "240"),  # 2 x 30 x 4
        (
            "MST Continus 10mg tablets (Napp Pharmaceuticals Ltd) 60 tablet",
            "one twice a day",
            "20",
        ),  # 1 x 10 x 2
        ("Tramadol 50mg capsules (30 capsule)", "one or two four times a day", "400"),  # 2 x 50 x 4
    ],
)
def test_a_pack_name_is_read_as_its_product(pack: str, dose: str, mg_per_day: str) -> None:
    dosed = {**resource(pack, code="9999999999"), "dosageInstruction": [{"text": dose}]}
    result = oral_morphine_equivalent([dosed])
    [med] = result.medications
    assert med.daily_dose == Decimal(mg_per_day) and not result.incomplete


def _opioid_names() -> list[str]:
    catalogue = load_product_catalogue()
    aliases = {a.alias for a in catalogue.aliases if a.drug_class is DrugClass.OPIOID}
    return sorted(set(catalogue.brands) | aliases)


@pytest.mark.parametrize("written", ["{}", "{} tablets", "{} 10mg", "{} 30mg/500mg tablets 100 tablet"])
def test_every_opioid_brand_and_name_is_never_zero_with_the_total_complete(written: str) -> None:
    """Each brand of the dm+d opioid AMPs and each opioid word of the aliases, however little a name says."""
    wrong = []
    for name in _opioid_names():
        dosed = {**resource(written.format(name.title())), "dosageInstruction": [{"text": "one twice a day"}]}
        result = oral_morphine_equivalent([dosed])
        opioid = [
            m for m in result.medications if m.identified and m.identified.drug_class is DrugClass.OPIOID
        ]
        if len(opioid) != 1 or not (opioid[0].computable or result.incomplete):
            wrong.append(name)
    assert wrong == []
    assert len(_opioid_names()) >= 200


@pytest.mark.parametrize("text", ["Co-codamol 30mg/500mg tablets", "Zydol SR 100mg tablets", "Oramorph"])
def test_a_non_opioid_code_whose_name_says_an_opioid_is_an_unrecognised_opioid_not_a_zero(text: str) -> None:
    # 42128111000001101: Diazepam 2mg tablets (dmd-opioid-products.csv, a benzodiazepine): the code and the
    # name disagree, and the name is an opioid: it is never counted as nothing with the total complete
    dosed = {**resource(text, code="42128111000001101"), "dosageInstruction": [{"text": "2 qds"}]}
    result = oral_morphine_equivalent([dosed])
    [med] = result.medications
    assert (med.reason_code, med.computable) == (UNRECOGNISED_OPIOID, False) and result.incomplete
    assert "Diazepam" in (med.reason or "")


def test_a_non_opioid_name_beside_an_opioid_display_is_an_unrecognised_opioid_not_a_zero() -> None:
    concept = {
        "text": "Diazepam 2mg tablets",
        "coding": [{"system": SNOMED, "code": "1234567890", "display": "Co-codamol 30mg/500mg tablets"}],
    }
    dosed = {**resource(), "medicationCodeableConcept": concept, "dosageInstruction": [{"text": "2 qds"}]}
    result = oral_morphine_equivalent([dosed])
    [med] = result.medications
    assert (med.reason_code, med.ingredient) == (UNRECOGNISED_OPIOID, "codeine") and result.incomplete


@pytest.mark.parametrize(
    ("code", "display", "why"),
    [
        (
            "42009811000001101",
            "Paracetamol 500mg tablets",
            "the co-codamol 30mg/500mg VMP shown as paracetamol: 24 OME for 2 qds, or no opioid at all",
        ),
        ("42009811000001101", "Ibuprofen 400mg tablets", "the co-codamol VMP shown as ibuprofen"),
        (
            "232711000001100",
            "Paracetamol 500mg tablets",
            "an AMP of it (Kapake 30mg/500mg) shown as paracetamol",
        ),
    ],
)
def test_an_opioid_code_whose_display_names_another_non_opioid_medicine_is_refused(
    code: str, display: str, why: str
) -> None:
    concept = {"coding": [{"system": SNOMED, "code": code, "display": display}]}
    dosed = {**resource(), "medicationCodeableConcept": concept, "dosageInstruction": [{"text": "2 qds"}]}
    result = oral_morphine_equivalent([dosed])
    [med] = result.medications
    assert (med.reason_code, med.ingredient, med.computable) == (UNRECOGNISED_OPIOID, "codeine", False), why
    assert result.incomplete and result.total_mg_per_day == 0  # "at least", never trusted by code alone
    assert display in (med.reason or "") and "names no opioid" in (med.reason or "")


@pytest.mark.parametrize(
    "display",
    [
        "Co-codamol 30mg/500mg tablets",
        "CO-CODAMOL 30MG/500MG TABLETS",
        "Co-codamol 30mg/500mg tablets (100 tablet)",
        "Kapake 30mg/500mg tablets",
    ],
)
def test_an_opioid_code_whose_display_names_it_is_read_by_code(display: str) -> None:
    # 2 qds of co-codamol 30mg/500mg: 8 tablets x 30 mg = 240 mg codeine x 0.1 = 24
    concept = {"coding": [{"system": SNOMED, "code": "42009811000001101", "display": display}]}
    dosed = {**resource(), "medicationCodeableConcept": concept, "dosageInstruction": [{"text": "2 qds"}]}
    result = oral_morphine_equivalent([dosed])
    assert not result.incomplete and result.total_mg_per_day == Decimal("24")


def _dosed(name: str, dose: str, code: str | None = None) -> dict[str, Any]:
    return {**resource(name, code=code), "dosageInstruction": [{"text": dose}]}


@pytest.mark.parametrize(
    ("name", "dose", "ome"),
    [
        # Opioids Aware (docs/domain/reference-facts.md): codeine, dihydrocodeine, tramadol 0.1; oxycodone 1.5
        # A compound's strengths are read in the order its name writes its ingredients; a "co-" name writes
        # the opioid first (BNF: co-codamol 30/500 is codeine 30 mg, paracetamol 500 mg). Each was read at
        # the partner's strength (or, for oxycodone with naloxone, the naloxone's), in brackets.
        ("Co-codamol 30/500mg tablets", "2 qds", "24"),  # 8 x 30 = 240 mg x 0.1 (was 400: 500 mg read)
        ("Co-dydramol 10/500mg tablets", "2 qds", "8"),  # 8 x 10 = 80 x 0.1 (was 400)
        ("Paracetamol/codeine 500mg/30mg tablets", "2 qds", "24"),  # codeine named second (was 400)
        ("Ibuprofen and codeine 200mg/12.8mg tablets", "2 tds", "7.68"),  # 6 x 12.8 x 0.1 (was 120)
        ("Tramadol/paracetamol 37.5/325mg tablets", "2 qds", "30"),  # 8 x 37.5 x 0.1 (was 260)
        ("Oxycodone/naloxone 20/10mg prolonged-release tablets", "1 bd", "60"),  # 2 x 20 x 1.5 (was 30)
        ("Naloxone/oxycodone 20mg/40mg prolonged-release tablets", "1 bd", "120"),  # 2 x 40 x 1.5 (was 60)
        # a brand's "x/y": the product whose strengths are both (Targinact 10/5's naloxone 5 mg is also
        # Targinact 5/2.5's oxycodone: it read half the dose, and 40/20 missed the high-dose threshold)
        ("Targinact 10/5mg prolonged-release tablets", "1 bd", "30"),  # 2 x 10 x 1.5 (was 15)
        ("Targinact 40/20mg prolonged-release tablets", "1 bd", "120"),  # 2 x 40 x 1.5 (was 60)
        ("Targinact 5mg/2.5mg modified-release tablets", "1 bd", "15"),  # 2 x 5 x 1.5
        ("Eroset 500mg/10mg tablets", "2 qds", "8"),  # the opioid written last: 8 x 10 x 0.1
        # spellings GP systems write, which were not read as opioids at all (0, the total complete)
        ("co codamol 30mg/500mg tablets", "2 qds", "24"),
        ("co dydramol 10mg/500mg tablets", "2 qds", "8"),
        ("DHC 60mg MR tablets", "1 bd", "12"),  # 2 x 60 x 0.1
        ("Codeine 30mg tabs", "1 qds", "12"),  # 4 x 30 x 0.1 ("tabs" was no form)
        # a "co-" product's strengths with no unit, as the BNF names it ("30/500": mg; were refused)
        ("Co-codamol 30/500 tablets", "2 qds", "24"),  # 8 x 30 x 0.1
        ("co codamol 30/500 tabs", "2 qds", "24"),
        ("codydramol 10/500 tablets", "2 qds", "8"),  # 8 x 10 x 0.1
    ],
)
def test_a_compounds_strengths_are_read_in_the_order_its_name_writes_them(
    name: str, dose: str, ome: str
) -> None:
    result = oral_morphine_equivalent([_dosed(name, dose)])
    assert result.total_mg_per_day == Decimal(ome) and not result.incomplete, result


def test_an_unknown_code_with_a_compounds_name_is_read_in_that_order() -> None:
    """A local code the service does not know, shown as "Co-codamol 30/500mg tablets", 2 qds: 24 (was 400)."""
    result = oral_morphine_equivalent([_dosed("Co-codamol 30/500mg tablets", "2 qds", "1234567000001100")])
    assert result.total_mg_per_day == 24 and not result.incomplete


@pytest.mark.parametrize(
    "name",
    [
        "Co-codamol 500/30 tablets",  # the BNF's "co-" naming, the other way round: refused
        # ingredients named in one order, strengths in the other: the opioid with paracetamol is always the
        # smaller strength (codeine 500 mg was read: OME 400 for 2 qds, not 24; tramadol 325: 260, not 30)
        "Paracetamol/codeine 30mg/500mg tablets",
        "Codeine/paracetamol 500mg/30mg tablets",
        "Tramadol/paracetamol 325mg/37.5mg tablets",
        "Paracetamol and codeine 500mg/30mg/10mg tablets",  # three strengths, two ingredients named
        # a "co-" name the other way round: every "co-" product's opioid is the smaller strength (BNF), so
        # 500 is no codeine strength (it read 500 mg of codeine a tablet: OME 400 for 2 qds, not 24)
        "Co-codamol 500/30mg tablets",
        "Co-codamol 500mg/30mg tablets",
        "Co-dydramol 500mg/10mg tablets",
    ],
)
def test_a_compound_whose_opioid_strength_is_not_certain_is_an_unrecognised_opioid(name: str) -> None:
    result = oral_morphine_equivalent([_dosed(name, "2 qds")])
    [med] = result.medications
    assert not med.computable and result.incomplete and med.identified is not None
    assert med.identified.drug_class is DrugClass.OPIOID


def test_a_plain_tablets_family_holds_no_effervescent_tablets() -> None:
    """Co-codamol 30/500 tablets (dm+d 42009811000001101): a step was proposed as the effervescent tablets
    (42009711000001109, listed last at 30 mg: another product, with its sodium); each keeps its own."""
    catalogue = load_product_catalogue()
    plain = next(p for p in catalogue.products if p.name == "Co-codamol 30mg/500mg tablets")
    fizzy = next(p for p in catalogue.products if p.name == "Co-codamol 30mg/500mg effervescent tablets")
    assert [p.code for p in catalogue.family_of(plain) if p.strength_per_unit == 30] == [plain.code]
    assert all(not p.presentation for p in catalogue.family_of(plain))
    assert [p.code for p in catalogue.family_of(fizzy)] == [fizzy.code]


@pytest.mark.parametrize(
    ("name", "dose"),
    [
        ("Fentanyl 12micrograms/hour transdermal patches", "apply one patch every 72 hours"),
        ("Matrifen 12micrograms/hour transdermal patches", "apply one patch every 72 hours"),
        ("Durogesic DTrans 12micrograms/hour transdermal patches", "apply one patch every 72 hours"),
        (
            "Fentanyl 12micrograms/hour transdermal patches",
            "apply one 12 microgram/hour patch every 72 hours",
        ),
        # its name's rate as the dose: one patch of it (was refused as part of a 12.5 patch)
        ("Fentanyl 12micrograms/hour transdermal patches", "Apply 12mcg/hr patch every 72 hours"),
    ],
)
def test_the_fentanyl_12_patch_is_found_by_its_name_and_counted_at_the_rate_it_releases(
    name: str, dose: str
) -> None:
    """The "12" patch releases 12.5 micrograms an hour (SmPCs, section 2; dmd-opioid-products.csv): one worn
    is 12.5 x 2.4 = 30 mg OME, the reference facts' ~30 (it read 28.8); its name's 12 still finds it."""
    result = oral_morphine_equivalent([_dosed(name, dose)])
    [med] = result.medications
    assert med.identified is not None and med.identified.product is not None
    assert med.identified.product.code == "9752311000001101"
    assert result.total_mg_per_day == 30 and not result.incomplete


@pytest.mark.parametrize(
    ("name", "product"),
    [
        # a brand named with its form, no presentation: the plain product (the effervescent one was read,
        # the last listed of the strength: another product to dispense, with its sodium)
        ("Solpadol 30mg/500mg tablets", "Co-codamol 30mg/500mg tablets"),
        ("Tramacet 37.5mg/325mg film-coated tablets", "Tramadol 37.5mg / Paracetamol 325mg tablets"),
        ("Tramacet 37.5mg/325mg tabs", "Tramadol 37.5mg / Paracetamol 325mg tablets"),
        ("Solpadol 30mg/500mg effervescent tablets", "Co-codamol 30mg/500mg effervescent tablets"),
        # a form the brand is not made in, or no form where it is made in two presentations: not certain
        ("Zamadol 50mg tablets", None),  # Zamadol 50 mg is capsules (it read the capsule)
        ("Tramacet", None),  # tablets or effervescent tablets?
    ],
)
def test_a_brand_is_its_product_in_the_form_and_presentation_its_name_says(
    name: str, product: str | None
) -> None:
    result = oral_morphine_equivalent([_dosed(name, "2 qds")])
    [med] = result.medications
    found = med.identified.product if med.identified is not None else None
    assert (found.name if found is not None else None) == product, found
    assert med.computable is (product is not None) and result.incomplete is (product is None)


@pytest.mark.parametrize(
    "name",
    [
        "Morphine 10mg/0ml oral solution",  # raised DivisionByZero
        "Fentanyl 0micrograms/hour patch",  # raised InvalidOperation
        "Morphine 99999999999999999999999999999999mg tablets",
        "Morphine " + "1/" * 50 + "1mg tablets",  # a chain of strengths no product has
        "Morphine 10mg tablets " + "x" * 400,  # longer than any medicine's name
    ],
)
def test_a_name_with_no_products_strength_is_an_unrecognised_opioid_not_an_exception(name: str) -> None:
    result = oral_morphine_equivalent([_dosed(name, "1 bd")])
    [med] = result.medications
    assert not med.computable and result.incomplete and med.reason_code == UNRECOGNISED_OPIOID


def test_a_brand_is_taken_from_a_names_first_words_and_matched_whole() -> None:
    """ "Zydol 200mg modified-release tablets" names no AMP brand of that VMP whole ("Zydol SR", "Zydol XL"
    are others: Zydol XL, once a day, was proposed for a twice-daily patient); a brand named further on
    ("... (not Zydol XL)") is no brand of the medicine."""
    catalogue = load_product_catalogue()
    assert catalogue.amp_of("zydol", "35920811000001107") is None
    amp = catalogue.amp_of("zydol xl", "35920811000001107")
    assert amp is not None and amp.term == "Zydol XL 200mg tablets"
    named = "Tramadol 200mg modified-release tablets (not Zydol XL)"
    assert catalogue.brand_of(named) is None  # no brand to propose by; "XL" anywhere still restricts a step
    assert catalogue.made_once_daily("Zamadol 24hr 200mg modified-release tablets")
    assert catalogue.made_once_daily("Morphine 60mg MXL capsules")  # written after the strength


# A combination product named with ONE strength: which ingredient's it is is not written. A pharmacist's
# review (2026-12-07) found the paracetamol's 500 mg read as codeine's: "Co-codamol 500mg tablets" 2 qds was
# 8 x 500 x 0.1 = OME 400, complete, with high-dose flags; co-codamol is codeine 8, 15 or 30 mg with
# paracetamol 500 mg (BNF), so the right answer is a refusal. Likewise the partner's strength of
# "Ibuprofen and codeine 200mg" (ibuprofen 200 mg / codeine 12.8 mg, BNF), "Tramadol/paracetamol 325mg"
# (tramadol 37.5 mg / paracetamol 325 mg, BNF), "Co-codaprin 400mg" (codeine 8 mg / aspirin 400 mg), and of
# the compound brands the alias table names (Panadeine, Migraleve and Syndol are codeine with paracetamol
# 500 or 450 mg). "Oxycodone/naloxone 5mg" is 5 mg of oxycodone (5/2.5) or of naloxone (10/5: Targinact
# SmPC section 2), and "10mg" is oxycodone 10/5 or the naloxone of 20/10: not certain either.
@pytest.mark.parametrize(
    "name",
    [
        "Co-codamol 500mg tablets",
        "Co-codamol 500mg caplets",
        "Co-codamol 500mg effervescent tablets",
        "Co-dydramol 500mg tablets",
        "Paracetamol and codeine 500mg tablets",
        "Codeine and paracetamol 500mg tablets",
        "Paracetamol/codeine 500mg tablets",
        "Ibuprofen and codeine 200mg tablets",
        "Tramadol/paracetamol 325mg tablets",
        "Co-codaprin 400mg tablets",
        "Panadeine 500mg tablets",
        "Migraleve 500mg tablets",
        "Syndol 450mg tablets",
        "Oxycodone/naloxone 5mg prolonged-release tablets",
        "Oxycodone/naloxone 10mg prolonged-release tablets",
        # 37.5 mg is tramadol's in Tramacet (37.5/325), but no product of the catalogue confirms it: refused
        "Tramadol/paracetamol 37.5mg tablets",
    ],
)
def test_a_compound_named_with_one_strength_that_may_be_its_partners_is_refused(name: str) -> None:
    result = oral_morphine_equivalent([_dosed(name, "2 qds")])
    [med] = result.medications
    assert not med.computable and result.incomplete and med.identified is not None
    assert med.identified.drug_class is DrugClass.OPIOID


@pytest.mark.parametrize(
    ("name", "dose", "ome"),
    [
        # one strength that can only be the opioid's: co-codamol's codeine is 8, 15 or 30 mg and its
        # paracetamol 500 mg (BNF), so "30mg" is codeine 30/500: 8 x 30 x 0.1 = 24
        ("Co-codamol 30mg tablets", "2 qds", "24"),
        ("Co-dydramol 10mg tablets", "2 qds", "8"),  # dihydrocodeine 10/500: 8 x 10 x 0.1
    ],
)
def test_a_compound_named_with_its_opioids_strength_alone_is_read(name: str, dose: str, ome: str) -> None:
    result = oral_morphine_equivalent([_dosed(name, dose)])
    assert result.total_mg_per_day == Decimal(ome) and not result.incomplete, result


# Line extensions of a codeine brand that hold no opioid (SmPC section 2): Feminax Express is ibuprofen
# lysine 342 mg (ibuprofen 200 mg), Feminax Ultra naproxen 250 mg. They were read as 342 mg and 250 mg of
# codeine (OME 205 and 75).
@pytest.mark.parametrize(
    "name", ["Feminax Express 342mg tablets", "Feminax Ultra 250mg gastro-resistant tablets"]
)
def test_a_codeine_brands_line_extension_without_opioid_is_not_an_opioid(name: str) -> None:
    assert identify_medication(resource(name), load_product_catalogue()).drug_class is None
    result = oral_morphine_equivalent([_dosed(name, "1 tds")])
    assert result.total_mg_per_day == 0 and not result.medications


def _brand_stems() -> list[str]:
    """The first word of each dm+d brand whose name goes on with a release word ("Dolocodon PR"): how
    GP systems and clinicians write it short."""
    release = {"pr", "sr", "xl", "mr", "la", "cr", "retard", "24hr"}
    stems = set()
    for brand in load_product_catalogue().brands:
        words = brand.split()
        if len(words) > 1 and words[-1] in release:
            stems.add(" ".join(words[:-1]))
    return sorted(stems)


def test_every_brand_written_without_its_release_word_is_an_opioid_never_zero() -> None:
    """ "Dolocodon 10mg" (dm+d: Dolocodon PR, oxycodone) and "Ationdo" (Ationdo SR, tramadol) were no opioid
    at all: total 0, complete."""
    wrong = []
    for stem in _brand_stems():
        for written in ("{}", "{} 10mg tablets"):
            result = oral_morphine_equivalent([_dosed(written.format(stem.title()), "1 bd")])
            opioid = [
                m for m in result.medications if m.identified and m.identified.drug_class is DrugClass.OPIOID
            ]
            if len(opioid) != 1 or not (opioid[0].computable or result.incomplete):
                wrong.append(written.format(stem))
    assert wrong == []
    assert {"dolocodon", "ationdo"} <= set(_brand_stems())


def test_a_prolonged_release_brand_written_short_is_its_product() -> None:
    """ "Dolocodon 10mg tablets" 1 bd: Dolocodon is only prolonged-release oxycodone (dm+d Dolocodon PR 5, 10,
    20, 40 mg), so 2 x 10 x 1.5 = OME 30."""
    result = oral_morphine_equivalent([_dosed("Dolocodon 10mg tablets", "1 bd")])
    assert result.total_mg_per_day == 30 and not result.incomplete
    [med] = result.medications
    assert med.identified is not None and med.identified.product is not None
    assert med.identified.product.modified_release


# A brand named with no strength stands for one product only when it makes one: Zamadol is 50 mg capsules,
# Zamadol SR 50-200 mg capsules and Zamadol 24hr 150-400 mg tablets (dm+d AMPs), so "Zamadol" 1 od was
# guessed as a 50 mg capsule (5), and "Zamadol 24hr" too, its release word unread (the right figure is 15-40).
@pytest.mark.parametrize(
    ("name", "dose"), [("Zamadol 24hr", "1 od"), ("Zamadol", "1 od"), ("Zamadol capsules", "1 bd")]
)
def test_a_brand_with_several_products_and_no_strength_written_is_refused(name: str, dose: str) -> None:
    result = oral_morphine_equivalent([_dosed(name, dose)])
    [med] = result.medications
    assert not med.computable and result.incomplete


@pytest.mark.parametrize(
    ("name", "dose", "ome"),
    [
        # a brand with a strength and a release word is the brand line's MR product (a pharmacist's follow-up,
        # 2026-12-07: read as the immediate-release one of the same strength, so a taper order switched
        # the patient's formulation): Palexia SR 50 mg bd = 100 mg tapentadol x 0.4 = 40 (Opioids Aware)
        ("Palexia 50mg prolonged-release tablets", "1 bd", "40"),
        ("Zamadol 50mg SR capsules", "1 bd", "10"),  # Zamadol SR 50: 100 mg tramadol x 0.1
    ],
)
def test_a_brand_with_a_strength_and_a_release_word_is_its_modified_release_product(
    name: str, dose: str, ome: str
) -> None:
    result = oral_morphine_equivalent([_dosed(name, dose)])
    [med] = result.medications
    assert result.total_mg_per_day == Decimal(ome) and not result.incomplete
    assert med.identified is not None and med.identified.product is not None
    assert med.identified.product.modified_release


def test_a_compound_brand_named_with_one_strength_its_partner_may_have_is_refused() -> None:
    """ "Targinact 10mg": oxycodone 10/5, or the naloxone of 20/10 (Targinact SmPC section 2): not certain,
    as "Oxycodone/naloxone 10mg" already was (C1.11); it was read as 10/5. Nurofen Plus 12.8 mg is no
    partner strength (ibuprofen 200 mg): 8 x 12.8 = 102.4 mg codeine x 0.1 = 10.24 (a guard)."""
    refused = oral_morphine_equivalent([_dosed("Targinact 10mg prolonged-release tablets", "1 bd")])
    [med] = refused.medications
    assert not med.computable and refused.incomplete
    read = oral_morphine_equivalent([_dosed("Nurofen Plus 12.8mg tablets", "2 qds")])
    assert read.total_mg_per_day == Decimal("10.24") and not read.incomplete
