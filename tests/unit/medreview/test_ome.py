"""Oral morphine equivalent calculator: sourced figures, as FHIR R4 dicts in and mg/day out.

Expected figures use the UK Faculty of Pain Medicine "Opioids Aware" factors recorded in
docs/domain/reference-facts.md (codeine, dihydrocodeine, tramadol 0.1; tapentadol 0.4; morphine 1;
oxycodone 1.5; patches 2.4 mg/day per microgram/hour) and the CDC 2022 MME table where named.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.medreview.domain.ome import OmeReason, oral_morphine_equivalent
from shared.terminology import DMD_SYSTEM, SNOMED_SYSTEM

CODEINE_30_TABLETS = "42010411000001105"
CO_CODAMOL_30_500_TABLETS = "42009811000001101"
TRAMADOL_50_CAPSULES = "42017811000001106"
TAPENTADOL_150_MR = "18671911000001101"
OXYCODONE_40_MR = "36130911000001104"
MORPHINE_10_MR = "36126511000001106"
BUPRENORPHINE_20_PATCH = "9567311000001107"
FENTANYL_50_PATCH = "36120211000001106"
FENTANYL_75_PATCH = "36120311000001103"
DIHYDROCODEINE_30_TABLETS = "39708511000001104"
METHADONE_5_TABLETS = "42385311000001106"


def dose(value: float, unit: str, per_day: int | None = None, **extra: Any) -> dict[str, Any]:
    """A structured R4 Dosage: ``value`` ``unit`` ``per_day`` times a day."""
    dosage: dict[str, Any] = {"doseAndRate": [{"doseQuantity": {"value": value, "unit": unit}}], **extra}
    if per_day is not None:
        dosage["timing"] = {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}}
    return dosage


def request(
    code: str | None = None, *dosages: dict[str, Any], text: str | None = None, **extra: Any
) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code:
        concept["coding"] = [{"system": DMD_SYSTEM, "code": code}]
    if text:
        concept["text"] = text
    return {
        "resourceType": "MedicationRequest",
        "id": extra.pop("id", "rx1"),
        "status": extra.pop("status", "active"),
        "intent": "order",
        "medicationCodeableConcept": concept,
        "dosageInstruction": list(dosages),
        **extra,
    }


CASES = [
    pytest.param(CODEINE_30_TABLETS, dose(2, "tablet", 4), "24", id="codeine 30mg x2 qds -> 24"),
    pytest.param(CO_CODAMOL_30_500_TABLETS, dose(2, "tablets", 4), "24", id="co-codamol 30/500 2 qds -> 24"),
    pytest.param(TRAMADOL_50_CAPSULES, dose(100, "mg", 4), "40", id="tramadol 100mg qds -> 40"),
    pytest.param(TAPENTADOL_150_MR, dose(1, "tablet", 2), "120", id="tapentadol 150mg MR bd -> 120"),
    pytest.param(OXYCODONE_40_MR, dose(1, "tablet", 2), "120", id="oxycodone 40mg MR bd -> 120"),
    pytest.param(MORPHINE_10_MR, dose(20, "mg", 1), "20", id="morphine 20mg daily -> 20"),
    pytest.param(
        BUPRENORPHINE_20_PATCH, dose(1, "patch"), "48", id="buprenorphine 20mcg/h 7-day patch -> 48"
    ),
    pytest.param(FENTANYL_50_PATCH, dose(1, "patch"), "120", id="fentanyl 50mcg/h patch -> 120"),
]


@pytest.mark.parametrize(("code", "dosage", "expected"), CASES)
def test_structured_dosages_give_the_sourced_ome(code: str, dosage: dict[str, Any], expected: str) -> None:
    result = oral_morphine_equivalent([request(code, dosage)])
    assert result.total_mg_per_day == Decimal(expected)
    assert not result.incomplete
    assert result.medications[0].ome_mg_per_day == Decimal(expected)


def test_codeine_240mg_a_day_is_24mg_ome() -> None:
    [med] = oral_morphine_equivalent([request(CODEINE_30_TABLETS, dose(2, "tablet", 4))]).medications
    assert (med.ingredient, med.daily_dose, med.unit, med.factor) == (
        "codeine",
        Decimal(240),
        "mg/day",
        Decimal("0.1"),
    )
    assert med.ome_mg_per_day == 24


def test_fentanyl_75_changed_every_3_days_is_180mg_ome_because_patches_count_by_microgram_per_hour() -> None:
    every_three_days = {
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "patch"}}],
        "timing": {"repeat": {"frequency": 1, "period": 3, "periodUnit": "d"}},
    }
    [med] = oral_morphine_equivalent([request(FENTANYL_75_PATCH, every_three_days)]).medications
    assert (med.daily_dose, med.unit, med.ome_mg_per_day) == (Decimal(75), "microgram/hour", Decimal(180))


def test_two_patches_worn_together_count_twice() -> None:
    result = oral_morphine_equivalent([request(FENTANYL_50_PATCH, dose(2, "patches"))])
    assert result.total_mg_per_day == 240
    text = oral_morphine_equivalent(
        [request(FENTANYL_50_PATCH, {"text": "apply two patches every 72 hours"})]
    )
    assert text.total_mg_per_day == 240


def test_a_patch_dose_in_mg_is_not_computable() -> None:
    [med] = oral_morphine_equivalent([request(FENTANYL_50_PATCH, dose(25, "mg"))]).medications
    assert med.reason_code == "dosage:dose-unit-unknown"


def test_as_needed_one_to_two_tablets_up_to_four_times_a_day_counts_the_maximum() -> None:
    prn = {
        "asNeededBoolean": True,
        "doseAndRate": [{"doseRange": {"low": {"value": 1, "unit": "tablet"}, "high": {"value": 2}}}],
        "timing": {"repeat": {"frequency": 1, "frequencyMax": 4, "period": 1, "periodUnit": "d"}},
    }
    [med] = oral_morphine_equivalent([request(CO_CODAMOL_30_500_TABLETS, prn)]).medications
    assert med.as_needed and med.daily_dose == 240 and med.ome_mg_per_day == 24


def test_a_prescribed_maximum_per_24_hours_caps_an_as_needed_dose() -> None:
    prn = {
        "asNeededBoolean": True,
        "doseAndRate": [{"doseRange": {"low": {"value": 1}, "high": {"value": 2, "unit": "tablet"}}}],
        "timing": {"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}},
        "maxDosePerPeriod": {
            "numerator": {"value": 6, "unit": "tablet"},
            "denominator": {"value": 24, "unit": "h"},
        },
    }
    [med] = oral_morphine_equivalent([request(CODEINE_30_TABLETS, prn)]).medications
    assert med.daily_dose == 180 and med.ome_mg_per_day == 18


def test_a_text_only_medication_and_dosage_are_parsed() -> None:
    resource = request(
        None, {"text": "1-2 four times a day when required"}, text="Co-codamol 30mg/500mg tablets"
    )
    [med] = oral_morphine_equivalent([resource]).medications
    assert med.computable and med.ome_mg_per_day == 24 and med.as_needed


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("Co-codamol 30mg/500mg tablets", "two tablets qds", "24"),
        ("Buprenorphine 10micrograms/hour seven day patches", "apply one patch every 7 days", "24"),
        ("Morphine sulfate 10mg/5ml oral solution", "10ml once daily", "20"),
        ("Oxycodone 5mg capsules", "take one every 12 hours", "15"),
        ("Dihydrocodeine 30mg tablets", "one at night", "3"),
        ("MST Continus 30mg tablets", "ONE tablet TWICE a day", "60"),
    ],
)
def test_names_and_free_text_dosages_give_the_sourced_ome(name: str, text: str, expected: str) -> None:
    result = oral_morphine_equivalent([request(None, {"text": text}, text=name)])
    assert result.total_mg_per_day == Decimal(expected)


def test_methadone_is_not_computable_and_says_why() -> None:
    result = oral_morphine_equivalent(
        [
            request(METHADONE_5_TABLETS, dose(1, "tablet", 2)),
            request(CODEINE_30_TABLETS, dose(1, "tablet", 4)),
        ]
    )
    methadone = result.medications[0]
    assert not methadone.computable and methadone.ome_mg_per_day is None
    assert (
        methadone.reason_code == OmeReason.NO_FIXED_FACTOR and "methadone" in (methadone.reason or "").lower()
    )
    assert result.incomplete and result.total_mg_per_day == 12
    assert result.not_computable == (methadone,)


def test_methadone_1mg_per_ml_oral_solution_is_opioid_substitution_therapy_not_computable() -> None:
    resource = request(None, {"text": "30ml once daily"}, text="Methadone 1mg/ml oral solution")
    [med] = oral_morphine_equivalent([resource]).medications
    assert med.reason_code == "opioid-substitution-therapy" and "drug service" in (med.reason or "")


def test_an_unknown_code_without_any_name_is_an_unknown_product_not_a_zero() -> None:
    result = oral_morphine_equivalent([request("999999999", dose(1, "tablet", 1))])
    [med] = result.medications
    assert (med.computable, med.reason_code, med.ome_mg_per_day) == (False, "unknown-product", None)
    assert result.incomplete


def test_an_opioid_whose_dose_cannot_be_read_makes_the_total_incomplete() -> None:
    result = oral_morphine_equivalent([request(CODEINE_30_TABLETS, {"text": "as directed"})])
    [med] = result.medications
    assert med.reason_code == "dosage:dose-quantity-missing" and med.reason
    assert result.incomplete and result.total_mg_per_day == 0


def test_an_opioid_name_without_a_strength_is_an_unrecognised_opioid_product() -> None:
    [med] = oral_morphine_equivalent(
        [request(None, {"text": "one daily"}, text="Tramadol capsules")]
    ).medications
    assert med.reason_code == "unrecognised-opioid-product"


def test_non_opioids_are_kept_aside_for_the_risk_rules_and_do_not_make_the_total_incomplete() -> None:
    result = oral_morphine_equivalent(
        [
            request(None, {"text": "two tablets qds"}, text="Paracetamol 500mg tablets", id="p"),
            request("42128311000001104", dose(1, "tablet", 3), id="d"),
        ]
    )
    assert result.medications == () and not result.incomplete
    assert [(o.reference, o.drug_class) for o in result.others] == [
        ("MedicationRequest/p", None),
        ("MedicationRequest/d", "benzodiazepine"),
    ]


def test_stopped_medications_are_excluded_but_listed() -> None:
    result = oral_morphine_equivalent([request(OXYCODONE_40_MR, dose(1, "tablet", 2), status="stopped")])
    assert result.total_mg_per_day == 0 and result.excluded == ("MedicationRequest/rx1",)


def test_totals_add_every_opioid() -> None:
    result = oral_morphine_equivalent(
        [
            request(OXYCODONE_40_MR, dose(1, "tablet", 2), id="a"),
            request(FENTANYL_50_PATCH, dose(1, "patch"), id="b"),
        ]
    )
    assert result.total_mg_per_day == 240 and len(result.medications) == 2


def test_a_contained_medication_and_an_older_snomed_id_are_resolved() -> None:
    resource = {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "active",
        "contained": [
            {
                "resourceType": "Medication",
                "id": "m",
                "code": {
                    "coding": [
                        {
                            "system": SNOMED_SYSTEM,
                            "code": "322341003",
                            "display": "Co-codamol 30mg/500mg tablets",
                        }
                    ]
                },
            }
        ],
        "medicationReference": {"reference": "#m"},
        "dosage": [dose(2, "tablet", 4)],
    }
    result = oral_morphine_equivalent([resource])
    assert result.total_mg_per_day == 24 and result.medications[0].reference == "MedicationStatement/ms1"


def test_a_referenced_medication_is_resolved_from_what_the_caller_supplies() -> None:
    resource = request(None, dose(1, "patch"))
    del resource["medicationCodeableConcept"]
    resource["medicationReference"] = {"reference": "Medication/fent"}
    medication = {
        "resourceType": "Medication",
        "id": "fent",
        "code": {"text": "Fentanyl 25micrograms/hour patches"},
    }
    result = oral_morphine_equivalent([resource], medications={"Medication/fent": medication})
    assert result.total_mg_per_day == 60


@pytest.mark.parametrize(
    ("code", "dosage", "expected"),
    [
        pytest.param(CODEINE_30_TABLETS, dose(2, "tablet", 4), "36", id="codeine 240mg x 0.15"),
        pytest.param(TRAMADOL_50_CAPSULES, dose(100, "mg", 4), "80", id="tramadol 400mg x 0.2"),
        pytest.param(FENTANYL_50_PATCH, dose(1, "patch"), "120", id="fentanyl 50mcg/h x 2.4"),
    ],
)
def test_the_cdc_2022_table_can_be_chosen(code: str, dosage: dict[str, Any], expected: str) -> None:
    result = oral_morphine_equivalent([request(code, dosage)], factor_table="cdc-2022")
    assert result.total_mg_per_day == Decimal(expected)
    assert (result.factor_table, result.factor_table_version[:4]) == ("cdc-2022", "2022")


def test_an_ingredient_missing_from_the_chosen_table_is_not_computable() -> None:
    result = oral_morphine_equivalent(
        [request(DIHYDROCODEINE_30_TABLETS, dose(1, "tablet", 4))], factor_table="cdc-2022"
    )
    assert result.medications[0].reason_code == "no-factor" and result.incomplete


@pytest.mark.parametrize(
    "dosage",
    [
        {
            "text": "1g qds"
        },  # 1 g is 2 tablets of paracetamol; as codeine it was read as 4000 mg a day (OME 400)
        {
            "text": "2 qds max 2g a day"
        },  # a paracetamol cap (4 tablets), never a codeine cap that does not bind
        {"text": "sixty mg qds"},  # a mass whose number is in words
        dose(1, "g", 4),  # structured, the same
        # 1000 in units the dose reader reads as mg but this check did not ("{mg}", an annotation UCUM
        # allows): read as 1000 mg of codeine four times a day, OME 400 (a pharmacist's review, 2026-12-07)
        dose(1000, "{mg}", 4),
        dose(1000, "milligrams", 4),
        dose(
            2,
            "tablet",
            4,
            maxDosePerPeriod={
                "numerator": {"value": 2, "unit": "g"},
                "denominator": {"value": 1, "unit": "d"},
            },
        ),
    ],
)
def test_a_mass_that_may_be_the_partner_ingredients_in_a_compound_is_not_computable(
    dosage: dict[str, Any],
) -> None:
    result = oral_morphine_equivalent([request(CO_CODAMOL_30_500_TABLETS, dosage)])
    [med] = result.medications
    assert not med.computable and result.incomplete
    assert med.reason_code == f"{OmeReason.DOSAGE}:dose-mass-in-compound"


def test_a_mass_that_only_the_opioid_fits_is_read_in_a_compound() -> None:
    # co-codamol 30mg/500mg: 60 mg = 2 tablets of codeine (0.12 of paracetamol): 60 x 4 = 240 mg x 0.1 = 24
    result = oral_morphine_equivalent([request(CO_CODAMOL_30_500_TABLETS, {"text": "60mg qds"})])
    assert result.total_mg_per_day == Decimal("24.00") and not result.incomplete
    # the product's strength restated in the text is not a dose: 2 tablets x 4 = 8 x 30 mg = 240 x 0.1 = 24
    restated = {"text": "Take TWO 30mg/500mg tablets four times daily"}
    assert oral_morphine_equivalent(
        [request(CO_CODAMOL_30_500_TABLETS, restated)]
    ).total_mg_per_day == Decimal("24.00")


@pytest.mark.parametrize(
    ("code", "dosage"),
    [
        (FENTANYL_75_PATCH, {"text": "25 micrograms/hour every 72 hours"}),  # a third of a 75 patch
        (FENTANYL_50_PATCH, {"text": "apply half a patch every 3 days"}),
        (BUPRENORPHINE_20_PATCH, dose(1.5, "patch")),
    ],
)
def test_part_of_a_patch_is_not_computable(code: str, dosage: dict[str, Any]) -> None:
    result = oral_morphine_equivalent([request(code, dosage)])
    [med] = result.medications
    assert not med.computable and result.incomplete
    assert med.reason_code == f"{OmeReason.DOSAGE}:dose-part-patch"


def test_a_rate_that_is_whole_patches_counts_them() -> None:
    # fentanyl 50 microgram/hour patches, "100 micrograms/hour": 2 patches worn, 100 x 2.4 = 240
    result = oral_morphine_equivalent(
        [request(FENTANYL_50_PATCH, {"text": "100 micrograms/hour every 72 hours"})]
    )
    assert result.total_mg_per_day == Decimal("240.00")


def test_a_compounds_dosage_not_shaped_as_r4_is_not_computable_not_an_exception() -> None:
    """Co-codamol with its maximum as a list (R5's shape): the compound's mass check raised AttributeError."""
    malformed = {"text": "2 qds", "maxDosePerPeriod": [{"numerator": {"value": 8, "unit": "tablet"}}]}
    result = oral_morphine_equivalent([request(CO_CODAMOL_30_500_TABLETS, malformed)])
    [med] = result.medications
    assert not med.computable and result.incomplete and med.reason_code == "dosage:dosage-malformed"
