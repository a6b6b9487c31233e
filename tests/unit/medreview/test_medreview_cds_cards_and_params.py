"""CDS cards from OME results (pure), and the taper policy read from an operation's Parameters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from services.medreview.cds_hooks.cards import order_sign_cards, patient_view_cards, summary
from services.medreview.domain.ome import oral_morphine_equivalent
from services.medreview.domain.risk import risk_flags
from services.medreview.domain.taper import StepBasis, TaperPolicy
from services.medreview.operations.params import factor_table_of, policy_of_params
from shared.fhir import BadRequest, Parameters


def med(id_: str, name: str, dosage: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": id_,
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": name},
        "dosageInstruction": [{"text": dosage}],
    }


ON_60 = med("now", "Morphine sulfate 30mg modified-release tablets", "one twice a day")


@pytest.mark.parametrize(
    ("draft", "indicators"),
    [
        (med("d", "Morphine sulfate 10mg modified-release tablets", "one twice a day"), ["info"]),
        (med("d", "Morphine sulfate 30mg modified-release tablets", "one twice a day"), ["info", "warning"]),
        (
            med("d", "Morphine sulfate 100mg modified-release tablets", "two twice a day"),
            ["info", "critical"],
        ),
    ],
)
def test_the_order_sign_total_card_and_the_threshold_the_order_crosses(
    draft: dict[str, Any], indicators: list[str]
) -> None:
    before, after = oral_morphine_equivalent([ON_60]), oral_morphine_equivalent([ON_60, draft])
    cards = order_sign_cards(
        before,
        after,
        risk_flags(after),
        ["MedicationRequest/d"],
        patient_id="p",
        enrolled=True,
        taper_status=None,
    )
    assert [c["indicator"] for c in cards] == indicators
    assert all(len(c["summary"]) < 140 and c["source"]["label"] for c in cards)


def test_a_dose_increase_during_a_taper_is_called_out() -> None:
    draft = med("d", "Morphine sulfate 10mg modified-release tablets", "one twice a day")
    before, after = oral_morphine_equivalent([ON_60]), oral_morphine_equivalent([ON_60, draft])
    cards = order_sign_cards(
        before, after, (), ["MedicationRequest/d"], patient_id="p", enrolled=True, taper_status="active"
    )
    assert cards[-1]["indicator"] == "warning" and "reduction plan (active)" in cards[-1]["summary"]


def test_a_benzodiazepine_ordered_for_someone_on_an_opioid_is_a_co_prescription_warning() -> None:
    draft = med("d", "Diazepam 2mg tablets", "one three times a day")
    before, after = oral_morphine_equivalent([ON_60]), oral_morphine_equivalent([ON_60, draft])
    cards = order_sign_cards(
        before,
        after,
        risk_flags(after),
        ["MedicationRequest/d"],
        patient_id="p",
        enrolled=False,
        taper_status=None,
    )
    assert [c["indicator"] for c in cards] == ["warning", "info"]
    assert cards[1]["suggestions"][0]["actions"][0]["resource"]["subject"] == {"reference": "Patient/p"}


def test_patient_view_cards_give_the_latest_dose_against_the_first_and_the_plan() -> None:
    trend = [(date(2026, 1, 5), Decimal(160), True), (date(2026, 3, 2), Decimal(90), False)]
    plan = {"status": "on-hold", "approved": 3, "proposed": 9, "next": None}
    dose, taper = patient_view_cards(trend, plan)
    assert dose["summary"] == "Opioid dose at least 90 mg OME a day on 2026-03-02 (was 160 on 2026-01-05)"
    assert dose["indicator"] == "info" and ">= 90" in dose["detail"]
    assert (taper["summary"], taper["indicator"]) == (
        "Opioid dose reduction paused: 3 of 9 steps approved",
        "warning",
    )
    assert patient_view_cards([], None) == []
    lines = ["Now: Morphine 60mg MR: one twice a day.", "Oral morphine equivalent 120 -> 110 mg a day."]
    [card] = patient_view_cards([], {**plan, "status": "draft", "next": "2026-03-02", "view": lines})
    assert (
        card["detail"]
        == "* Now: Morphine 60mg MR: one twice a day.\n* Oral morphine equivalent 120 -> 110 mg a day."
    )


def test_a_long_summary_is_cut_below_140_characters() -> None:
    assert len(summary("word " * 60)) == 139 and summary("short") == "short"


def params(*parameters: dict[str, Any]) -> Parameters:
    return Parameters({"resourceType": "Parameters", "parameter": list(parameters)})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ((), TaperPolicy()),
        (({"name": "longTermUse", "valueBoolean": True},), TaperPolicy(interval_days=28)),
        (
            (
                {"name": "stepPercent", "valueDecimal": 5},
                {"name": "stepBasis", "valueCode": "current"},
                {"name": "intervalDays", "valueInteger": 21},
                {"name": "targetDailyOME", "valueQuantity": {"value": 30, "unit": "mg/d"}},
                {"name": "order", "valueString": "codeine"},
                {"name": "order", "valueString": "MedicationRequest/m1"},
            ),
            TaperPolicy(
                step_percent=Decimal(5),
                step_basis=StepBasis.CURRENT,
                interval_days=21,
                target_mg_per_day=Decimal(30),
                order=("codeine", "MedicationRequest/m1"),
            ),
        ),
    ],
)
def test_the_taper_policy_comes_from_the_parameters_over_the_uk_defaults(
    given: tuple[dict[str, Any], ...], expected: TaperPolicy
) -> None:
    assert policy_of_params(params(*given)) == expected


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "stepPercent", "valueDecimal": 0},
        {"name": "stepPercent", "valueDecimal": 150},
        {"name": "intervalDays", "valueDecimal": 1.5},
        {"name": "stepBasis", "valueCode": "yesterday"},
        {"name": "targetDailyOME", "valueDecimal": -5},
        {"name": "slowStepFactor", "valueDecimal": 2},
    ],
)
def test_a_policy_that_makes_no_sense_is_a_bad_request(bad: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        policy_of_params(params(bad))


def test_the_factor_table_is_uk_by_default_cdc_on_request_and_nothing_else() -> None:
    assert factor_table_of(params()) == "uk-opioids-aware"
    assert factor_table_of(params({"name": "factorTable", "valueCode": "cdc-2022"})) == "cdc-2022"
    assert factor_table_of(params(), "cdc-2022") == "cdc-2022"
    with pytest.raises(BadRequest):
        factor_table_of(params({"name": "factorTable", "valueString": "made-up"}))
