"""GP wording the dose reader met in records: a dose every few days, the NHS "N/7" shorthand, a stated
daily total, a dash before advice, and a dose unit given only as a SNOMED CT code.

Expected figures are worked by hand from named sources, never from the reader's output:

* Opioids Aware factors (docs/domain/reference-facts.md): codeine 0.1, tramadol 0.1, morphine 1; a patch
  2.4 mg oral morphine a day per microgram/hour it releases, whatever its change interval (BuTrans 10 =
  24, fentanyl 25 = 60, Transtec 35 = 84);
* each product's strength from its name: "Codeine 30mg tablets" 30 mg codeine a tablet, "MST Continus
  10mg tablets" 10 mg morphine a tablet, "Tramadol 50mg capsules" 50 mg a capsule, "Oramorph 10mg/5ml
  oral solution" 10 mg in 5 ml, so 2 mg of morphine a ml;
* the BNF's abbreviations (bd 2 a day, qds 4 a day, prn when required) and the clinician's plain meaning
  of the words ("on alternate days": one day in two; "3/7": three days, the NHS shorthand as "for 5/7" is
  a five-day course).

A dose taken every few days (a tablet on alternate days, weekly) has no one daily amount: on the day it is
taken the patient takes the whole dose, averaged it is a fraction of it. It is refused, visibly, as a dose
on named weekdays is (``dose-on-weekdays``); a patch counts what is worn, so its change interval is kept.

Tests whose names end "as_before" are guards: they pass before and after the change that came with this
file, so that it breaks nothing they cover. Every other test here failed before it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shared.medicines.amounts import DailyAmount, DosageProblem, DoseForm
from shared.medicines.dosage import patch_change_hours
from shared.medicines.dose_text import read_dosage_text
from shared.medicines.ome import MedicationOme, OmeResult, oral_morphine_equivalent

SNOMED = "http://snomed.info/sct"
CODEINE_30 = "Codeine 30mg tablets"
MST_10 = "MST Continus 10mg tablets"
TRAMADOL_50_CAPSULES = "Tramadol 50mg capsules"
ORAMORPH = "Oramorph 10mg/5ml oral solution"
FENTANYL_25 = "Fentanyl 25micrograms/hour transdermal patches"
BUTRANS_10 = "BuTrans 10micrograms/hour transdermal patches"
TRANSTEC_35 = "Transtec 35micrograms/hour transdermal patches"
MORPHINE_TABLET_10 = DoseForm(
    "tablet", Decimal(10), False, frozenset({Decimal(10)}), frozenset({Decimal(10)})
)
QDS = {"repeat": {"frequency": 4, "period": 1, "periodUnit": "d"}}
BD = {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}


def _ome(name: str, dosage: list[dict[str, Any]]) -> tuple[MedicationOme, OmeResult]:
    statement = {
        "resourceType": "MedicationStatement",
        "status": "active",
        "medicationCodeableConcept": {"text": name},
        "dosage": dosage,
    }
    result = oral_morphine_equivalent([statement])
    [med] = result.medications
    return med, result


def _figure(name: str, dosage: list[dict[str, Any]]) -> Decimal:
    med, result = _ome(name, dosage)
    assert med.computable and not result.incomplete, (med.reason_code, med.reason)
    assert med.ome_mg_per_day is not None
    return med.ome_mg_per_day


def _refused(name: str, dosage: list[dict[str, Any]], code: str) -> MedicationOme:
    med, result = _ome(name, dosage)
    assert not med.computable and result.incomplete, (med.ome_mg_per_day, med.dosage_basis)
    assert med.ome_mg_per_day is None
    assert med.reason_code == f"dosage:{code}", (med.reason_code, med.reason)
    return med


def _tablet(value: float, timing: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    dosage: dict[str, Any] = {"doseAndRate": [{"doseQuantity": {"value": value, "unit": "tablet"}}]}
    return dosage | ({"timing": timing} if timing is not None else {}) | more


# ---- 1. a dose every few days ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # morphine 10 mg one day in two: 10 mg on the day it is taken, 5 mg a day averaged (it read 5)
        (MST_10, "one on alternate days"),
        (CODEINE_30, "1 every other day"),  # 30 mg codeine (OME 3) that day, 1.5 averaged: which?
        (CODEINE_30, "1 every second day"),
        (CODEINE_30, "1 every 3 days"),
        (CODEINE_30, "1 every third day"),
        (CODEINE_30, "1 every fourth day"),
        (CODEINE_30, "1 every 48 hours"),  # every 2 days, written in hours
        (CODEINE_30, "1 weekly"),
        (CODEINE_30, "one tablet once a week"),
        (CODEINE_30, "1 twice weekly"),
        (CODEINE_30, "1 fortnightly"),
        (CODEINE_30, "1 monthly"),
        (TRAMADOL_50_CAPSULES, "1 capsule every 2 days"),
        (ORAMORPH, "5ml on alternate days"),  # 10 mg morphine that day, 5 mg averaged
        (CODEINE_30, "1-2 every other day when required"),
        # NHS shorthand: "every 3/7" is every three days, which for a tablet has no one daily amount
        (CODEINE_30, "1 every 3/7"),
    ],
)
def test_a_dose_every_few_days_of_a_tablet_capsule_or_liquid_is_refused(name: str, text: str) -> None:
    med = _refused(name, [{"text": text}], "dose-every-few-days")
    assert "no one daily amount" in (med.reason or "")


@pytest.mark.parametrize(
    "dosage",
    [
        _tablet(1, {"repeat": {"frequency": 1, "period": 2, "periodUnit": "d"}}),  # once in 2 days
        _tablet(1, {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}}),  # once a week
        _tablet(1, {"repeat": {"frequency": 2, "period": 1, "periodUnit": "wk"}}),  # twice a week
        _tablet(1, {"repeat": {"frequency": 1, "period": 48, "periodUnit": "h"}}),  # every 48 hours
        _tablet(1, {"repeat": {"frequency": 1, "period": 1, "periodUnit": "mo"}}),  # once a month
        _tablet(1, {"code": {"coding": [{"code": "QOD"}]}}),  # HL7 GTSAbbreviation: every other day
        _tablet(1, {"code": {"coding": [{"code": "WK"}]}}),  # HL7 GTSAbbreviation: weekly
        # the text beside it does not stand in for the timing (it would read 1 a day)
        _tablet(1, {"repeat": {"frequency": 1, "period": 2, "periodUnit": "d"}}, text="one daily"),
        # a structured dose with no timing, its timing in the text
        _tablet(1, text="every other day"),
    ],
)
def test_a_structured_timing_every_few_days_of_a_tablet_is_refused(dosage: dict[str, Any]) -> None:
    med = _refused(CODEINE_30, [dosage], "dose-every-few-days")
    assert "no one daily amount" in (med.reason or "")


@pytest.mark.parametrize(
    ("name", "dosage", "expected"),
    [
        # one patch worn, whatever its change interval: Opioids Aware, 2.4 per microgram/hour
        (BUTRANS_10, {"text": "apply one patch every 7 days"}, "24"),  # 10 x 2.4
        (BUTRANS_10, {"text": "apply one patch weekly"}, "24"),
        (BUTRANS_10, {"text": "Apply one patch once a week"}, "24"),
        (FENTANYL_25, {"text": "apply one patch every 72 hours"}, "60"),  # 25 x 2.4
        (FENTANYL_25, {"text": "1 patch every 3 days"}, "60"),
        (TRANSTEC_35, {"text": "apply one patch twice weekly"}, "84"),  # 35 x 2.4
        (
            BUTRANS_10,
            {
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "patch"}}],
                "timing": {"repeat": {"frequency": 1, "period": 7, "periodUnit": "d"}},
            },
            "24",
        ),
        (
            FENTANYL_25,
            {
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "patch"}}],
                "timing": {"repeat": {"frequency": 1, "period": 72, "periodUnit": "h"}},
            },
            "60",
        ),
        (
            BUTRANS_10,
            {
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "patch"}}],
                "timing": {"code": {"coding": [{"code": "WK"}]}},
            },
            "24",
        ),
    ],
)
def test_a_patch_changed_every_few_days_counts_the_patch_worn_as_before(
    name: str, dosage: dict[str, Any], expected: str
) -> None:
    assert _figure(name, [dosage]) == Decimal(expected)


def test_a_daily_dose_of_a_tablet_is_read_as_before() -> None:
    """ "1 every 24 hours" and "1 every 1-2 days": at most once a day, 30 mg codeine (OME 3)."""
    assert _figure(CODEINE_30, [{"text": "1 every 24 hours"}]) == Decimal(3)
    assert _figure(CODEINE_30, [{"text": "1 every 1-2 days"}]) == Decimal(3)


# ---- 2. "N/7": N days, the NHS shorthand -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected", "hours"),
    [
        (FENTANYL_25, "1 patch every 3/7", "60", 72),  # every 3 days (72 hours): 25 x 2.4 worn
        (BUTRANS_10, "apply one patch every 7/7", "24", 168),  # every 7 days: 10 x 2.4 worn
        (FENTANYL_25, "1 every 4/7", "60", 96),  # every 4 days: one 25 patch worn, 25 x 2.4
    ],
)
def test_a_patch_changed_every_n_sevenths_is_changed_every_n_days(
    name: str, text: str, expected: str, hours: int
) -> None:
    assert _figure(name, [{"text": text}]) == Decimal(expected)
    assert patch_change_hours([{"text": text}]) == frozenset({Decimal(hours)})


def test_n_sevenths_after_for_is_a_course_as_before() -> None:
    """ "1 qds for 5/7": a five-day course of 1 tablet four times a day, 4 x 30 mg = 120 mg codeine
    (OME 12); the course length is no interval."""
    assert _figure(CODEINE_30, [{"text": "1 qds for 5/7"}]) == Decimal(12)


# ---- 3. "total", and words that begin with another word ----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1 bd (total 20mg daily)",  # 1 x 10 mg twice a day = 20 mg a day: as stated
        "1 bd (a total of 20mg a day)",
        "1 bd (total daily dose 20mg)",
        "one twice a day, total 20mg per day",
        "1 bd (total 2 tablets daily)",  # 1 x 2 = 2 tablets a day: as stated
    ],
)
def test_a_stated_daily_total_that_agrees_is_read(text: str) -> None:
    # MST Continus 10 mg, 1 twice a day: 20 mg morphine a day, OME 20 x 1 = 20
    assert _figure(MST_10, [{"text": text}]) == Decimal(20)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1 bd (total 30mg daily)", "dose-inconsistent"),  # 1 x 10 x 2 = 20 mg, not 30: which?
        ("1 bd (total 3 tablets daily)", "dose-inconsistent"),  # 2 tablets, not 3
        ("1 bd (total 20 daily)", "dose-total-unreadable"),  # 20 tablets a day, or 20 mg?
    ],
)
def test_a_stated_daily_total_that_disagrees_or_cannot_be_read_is_refused(text: str, code: str) -> None:
    _refused(MST_10, [{"text": text}], code)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("1 bd (total 56 tablets)", "total"),  # a supply, not a day's total: no day said
        ("1 tonight", "tonight"),  # tonight only, or every night? (was read as "to" + "night")
        ("1 today", "today"),  # was "to" + "day"
        ("1 at night often", "often"),  # was "of" + "ten"
        ("1 at night totally", "totally"),
        ("1 nights", "nights"),  # was "night" + "s"
    ],
)
def test_a_word_that_begins_with_another_is_named_whole_when_not_read(text: str, word: str) -> None:
    found = read_dosage_text(text, MORPHINE_TABLET_10)
    assert isinstance(found, DosageProblem) and found.code == "dosage-words-unread", found
    assert found.words == (word,)


@pytest.mark.parametrize("text", ["1 taken at night", "1 used at night"])
def test_a_word_that_begins_with_another_is_read_whole(text: str) -> None:
    found = read_dosage_text(text, MORPHINE_TABLET_10)
    # one tablet at night: 1 a day
    assert isinstance(found, DailyAmount) and (found.quantity, found.unit) == (Decimal(1), "unit"), found


def test_once_alone_is_not_read_as_before() -> None:
    found = read_dosage_text("1 once", MORPHINE_TABLET_10)
    assert isinstance(found, DosageProblem) and found.words == ("once",), found


# ---- 4. a dose unit given only as a SNOMED CT code ---------------------------------------------------


def _coded(value: float, code: str, timing: dict[str, Any] | None, unit: str = "") -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "system": SNOMED, "code": code}
    dosage: dict[str, Any] = {"doseAndRate": [{"doseQuantity": quantity | ({"unit": unit} if unit else {})}]}
    return dosage | ({"timing": timing} if timing else {})


@pytest.mark.parametrize(
    ("name", "dosage", "expected"),
    [
        # dm+d unit 428673006 tablet: 2 tablets qds = 8 x 30 mg = 240 mg codeine, OME 24
        (CODEINE_30, _coded(2, "428673006", QDS), "24"),
        # 732936001 Tablet (unit of presentation): the same
        (CODEINE_30, _coded(2, "732936001", QDS), "24"),
        # dm+d 428641000 capsule: 1 x 50 mg x 4 = 200 mg tramadol, OME 20
        (TRAMADOL_50_CAPSULES, _coded(1, "428641000", QDS), "20"),
        # 732937005 Capsule (unit of presentation): the same
        (TRAMADOL_50_CAPSULES, _coded(1, "732937005", QDS), "20"),
        # dm+d 419702001 patch: one 25 microgram/hour patch worn, 25 x 2.4 = 60
        (FENTANYL_25, _coded(1, "419702001", None), "60"),
        # 733005001 Patch (unit of presentation): the same
        (FENTANYL_25, _coded(1, "733005001", None), "60"),
        # 258773002 millilitre: 5 ml x 2 mg/ml = 10 mg morphine, x 4 = 40 mg, OME 40
        (ORAMORPH, _coded(5, "258773002", QDS), "40"),
    ],
)
def test_a_dose_unit_given_only_as_a_snomed_ct_code_is_read(
    name: str, dosage: dict[str, Any], expected: str
) -> None:
    assert _figure(name, [dosage]) == Decimal(expected)


@pytest.mark.parametrize(
    "code",
    [
        "258773002",  # millilitre: 2 tablets, or 2 ml?
        "258684004",  # milligram: 2 tablets, or 2 mg?
        "258685003",  # microgram
        "733005001",  # patch (unit of presentation)
    ],
)
def test_a_snomed_ct_unit_code_that_disagrees_with_its_unit_text_is_refused(code: str) -> None:
    """ "tablet" beside a SNOMED CT code of another unit: the tablets were read, the code ignored."""
    _refused(CODEINE_30, [_coded(2, code, QDS, unit="tablet")], "dose-unit-conflict")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # 258684004 milligram with no unit text. Not read as mg: the engine's check that a compound's mass
        # is its opioid's reads a unit text, not this code, so "1000" coded mg of co-codamol 8/500 (two
        # tablets of its paracetamol) read as codeine would be 1000 x 4 = 4000 mg codeine, OME 400
        ("Co-codamol 8mg/500mg tablets", 1000),
        (MST_10, 20),
    ],
)
def test_a_dose_given_only_as_a_snomed_ct_mass_is_not_read_as_before(name: str, value: int) -> None:
    _refused(name, [_coded(value, "258684004", QDS)], "dose-unit-unknown")


def test_a_unit_text_beside_the_same_snomed_ct_unit_code_is_read_as_before() -> None:
    """ "tablet" beside 428673006 (tablet), as GP Connect sends it: 2 x 4 x 30 mg = 240 mg codeine, OME 24."""
    assert _figure(CODEINE_30, [_coded(2, "428673006", QDS, unit="tablet")]) == Decimal(24)


def test_a_snomed_ct_code_not_verified_as_a_unit_is_not_read_as_before() -> None:
    """732977007 was offered as a patch unit, but no source here says it is one: not read."""
    _refused(FENTANYL_25, [_coded(1, "732977007", None)], "dose-unit-unknown")


# ---- 5. a dash before advice ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected", "as_needed"),
    [
        # 1-2 four times a day when required: at most 2 x 4 = 8 tablets, 240 mg codeine, OME 24; label 2
        # advice (BNF) changes nothing
        (CODEINE_30, "1-2 qds prn - may cause drowsiness", "24", True),
        (CODEINE_30, "1-2 qds prn \u2013 may cause drowsiness", "24", True),  # an en dash
        # 2 x 4 = 8 tablets, within its maximum of 8: 240 mg, OME 24
        (CODEINE_30, "2 four times a day - do not exceed 8 in 24 hours", "24", False),
        # 2 x 4 = 8, held to its maximum of 6: 180 mg, OME 18
        (CODEINE_30, "2 four times a day - do not exceed 6 in 24 hours", "18", False),
        # 1 twice a day, restated as one in the morning and one at night: 2 x 10 mg = 20 mg, OME 20
        (MST_10, "1 bd - one in the morning and one at night", "20", False),
        (MST_10, "1 bd - 10mg in the morning and 10mg at night", "20", False),
    ],
)
def test_a_dash_before_advice_a_maximum_or_a_restatement_is_a_sentence_break(
    name: str, text: str, expected: str, as_needed: bool
) -> None:
    med, _ = _ome(name, [{"text": text}])
    assert _figure(name, [{"text": text}]) == Decimal(expected)
    assert med.reading is not None and med.reading.as_needed is as_needed


@pytest.mark.parametrize(
    "text",
    [
        "1 bd - two in the morning and one at night",  # 2 a day, or 3? the two writings differ
        "1 bd - 1 at night",  # twice a day, or once?
    ],
)
def test_a_restatement_after_a_dash_that_differs_is_refused(text: str) -> None:
    med = _refused(MST_10, [{"text": text}], "dose-inconsistent")
    assert "restate" in (med.reason or "")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (CODEINE_30, "1 - 2 qds", "24"),  # at most 2 x 4 = 8 tablets, 240 mg: OME 24
        (ORAMORPH, "5 - 10ml qds", "80"),  # at most 10 ml x 4 = 40 ml x 2 mg/ml = 80 mg: OME 80
        (CODEINE_30, "1 every 4 - 6 hours", "18"),  # at most 24 / 4 = 6 a day, 180 mg: OME 18
    ],
)
def test_a_range_written_with_a_spaced_dash_is_a_range_as_before(name: str, text: str, expected: str) -> None:
    assert _figure(name, [{"text": text}]) == Decimal(expected)


@pytest.mark.parametrize("text", ["2 tablets - 1 at night", "2-1 at night"])
def test_a_range_whose_low_end_is_above_its_high_is_refused(text: str) -> None:
    # "2 - 1": a range from 2 down to 1 (it read 1, the high end), or 2 tablets, then a sentence?
    _refused(CODEINE_30, [{"text": text}], "dose-range-inverted")
