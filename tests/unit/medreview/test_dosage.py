"""Reading the most a dosage allows a day, from R4 Dosage fields and from UK free text."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shared.medicines.amounts import MG, RATE, UNIT, DailyAmount, DosageProblem, DoseForm
from shared.medicines.dosage import max_daily_amount
from shared.medicines.dose_text import read_dosage_text

TABLET = DoseForm("tablet", Decimal(30), is_patch=False)


def amount(dosages: list[dict[str, Any]], product_unit: str = "tablet", is_patch: bool = False) -> Any:
    return max_daily_amount(dosages, DoseForm(product_unit, Decimal(30), is_patch))


def parse_dosage_text(text: str, *, product_unit: str, is_patch: bool) -> DailyAmount | DosageProblem:
    return read_dosage_text(text, DoseForm(product_unit, Decimal(30), is_patch))


@pytest.mark.parametrize(
    ("text", "expected", "as_needed"),
    [
        ("1-2 four times a day when required", "8", True),
        ("two tablets qds", "8", False),
        ("one at night", "1", False),
        ("take one every 12 hours", "2", False),
        ("One Or Two To Be Taken UPTO Four Times A Day", "8", False),
        ("1 OR 2 THREE TIMES A DAY AFTER FOOD", "6", False),
        ("One To Be Taken Each Day", "1", False),
        ("Take ONE tablet TWICE a day", "2", False),
        ("1 bd", "2", False),
        ("2 tds prn", "6", True),
        ("half a tablet at night", "0.5", False),
        ("one in the morning and two at night", "3", False),
        ("1-2 every 4-6 hours when required, max 8 in 24 hours", "8", True),
        ("1 tablet 4 hourly", "6", False),
        # "one tablet weekly" was averaged to 0.14 a day; a dose every few days is refused now (no one daily
        # amount: test_gp_wording.py::test_a_dose_every_few_days_of_a_tablet_capsule_or_liquid_is_refused)
    ],
)
def test_uk_free_text_dosages_give_the_daily_maximum(text: str, expected: str, as_needed: bool) -> None:
    result = parse_dosage_text(text, product_unit="tablet", is_patch=False)
    assert isinstance(result, DailyAmount)
    assert result.quantity.quantize(Decimal("0.01")) == Decimal(expected).quantize(Decimal("0.01"))
    assert result.unit == "unit" and result.as_needed is as_needed


def test_a_dose_written_in_mg_stays_in_mg() -> None:
    result = parse_dosage_text("20mg daily", product_unit="tablet", is_patch=False)
    assert isinstance(result, DailyAmount)
    assert (result.quantity, result.unit, result.basis) == (Decimal(20), "mg", "20 mg x 1 a day")


def test_ml_of_a_liquid_counts_in_the_products_own_unit() -> None:
    result = parse_dosage_text("5ml four times a day", product_unit="ml", is_patch=False)
    assert isinstance(result, DailyAmount) and (result.quantity, result.unit) == (Decimal(20), "unit")


def test_a_patch_counts_patches_worn_not_how_often_they_are_changed() -> None:
    result = parse_dosage_text("apply one patch every 7 days", product_unit="patch", is_patch=True)
    assert isinstance(result, DailyAmount) and result.quantity == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("as directed", "dose-quantity-missing"),
        ("2 times a day for 10 days", "dose-quantity-missing"),
        ("one tablet", "frequency-missing"),
        ("two puffs twice a day", "dose-unit-unknown"),
        ("10ml twice a day", "dose-unit-unknown"),
    ],
)
def test_text_that_cannot_be_read_is_a_problem_not_a_guess(text: str, code: str) -> None:
    result = parse_dosage_text(text, product_unit="tablet", is_patch=False)
    assert isinstance(result, DosageProblem) and result.code == code and result.text


def test_time_of_day_entries_count_as_administrations() -> None:
    dosage = {
        "doseAndRate": [{"doseQuantity": {"value": 1}}],
        "timing": {"repeat": {"timeOfDay": ["08:00", "20:00"]}},
    }
    assert amount([dosage]).quantity == 2


def test_when_codes_count_as_administrations() -> None:
    repeat = {"frequency": 1, "period": 1, "periodUnit": "d", "when": ["MORN", "NIGHT"]}
    dosage = {
        "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "capsule"}}],
        "timing": {"repeat": repeat},
    }
    assert amount([dosage], "capsule").quantity == 4


def test_an_hourly_period_is_converted_to_a_day() -> None:
    repeat = {"frequency": 1, "period": 6, "periodUnit": "h"}
    dosage = {"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}], "timing": {"repeat": repeat}}
    assert amount([dosage]).quantity == 4


def test_a_timing_abbreviation_code_is_understood() -> None:
    timing = {"code": {"coding": [{"code": "TID"}]}}
    dosage = {"doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet"}}], "timing": timing}
    assert amount([dosage]).quantity == 6


def test_dosages_taken_together_add_and_sequential_phases_that_differ_are_refused() -> None:
    """Sequence 1 (1 in the morning + 2 at night = 3 a day) then sequence 2 (1 at night = 1 a day): a dose
    that changes over time; which applies today depends on when it started, so it is refused (it used to be
    read as the largest phase, 3). The same phase alone adds up: 1 + 2 = 3."""
    morning = {
        "sequence": 1,
        "doseAndRate": [{"doseQuantity": {"value": 1}}],
        "timing": {"repeat": {"when": ["MORN"]}},
    }
    night = {
        "sequence": 1,
        "doseAndRate": [{"doseQuantity": {"value": 2}}],
        "timing": {"repeat": {"when": ["NIGHT"]}},
    }
    later = {
        "sequence": 2,
        "doseAndRate": [{"doseQuantity": {"value": 1}}],
        "timing": {"repeat": {"when": ["NIGHT"]}},
    }
    assert amount([morning, night]).quantity == 3
    refused = amount([morning, night, later])
    assert isinstance(refused, DosageProblem) and refused.code == "dose-changes-over-time"
    # phases in turn with the same daily amount do not change the dose: 1 at night, then 1 at night = 1
    again = {**later, "sequence": 3}
    assert amount([later, again]).quantity == 1


def test_a_maximum_per_period_alone_is_the_daily_maximum() -> None:
    dosage = {
        "asNeededBoolean": True,
        "maxDosePerPeriod": AT_MOST_8_A_DAY,
    }
    result = amount([dosage])
    assert isinstance(result, DailyAmount) and (result.quantity, result.as_needed) == (Decimal(8), True)


def test_a_structured_dose_in_an_unknown_unit_falls_back_to_text() -> None:
    dosage = {
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "spoon"}}],
        "text": "one tablet twice a day",
    }
    assert amount([dosage]).quantity == 2


def test_a_structured_dose_in_an_unknown_unit_without_text_is_a_problem() -> None:
    dosage = {"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "spoon"}}]}
    assert amount([dosage]) == DosageProblem("dose-unit-unknown", "Dose unit 'spoon' does not fit a tablet")


def test_no_dosage_at_all_is_a_problem() -> None:
    result = amount([])
    assert isinstance(result, DosageProblem) and result.code == "dosage-missing"


# Structured timings read as daily before 2026-12-06 and refused now. By hand, from R4 Timing (tim-2: a
# period needs its periodUnit; frequency is "times per period"; dayOfWeek restricts the days): each would
# have been read as 2 tablets a day.
@pytest.mark.parametrize(
    ("repeat", "why"),
    [
        # two a week or two a month? no unit: was read as 2 a day
        ({"frequency": 2, "period": 1}, "period without its unit"),
        # two in what period? was read as 2 a day
        ({"frequency": 2}, "frequency without the period"),
        ({"frequencyMax": 2}, "frequency without the period"),
        # Mondays and Thursdays only: 2 a day on those days, 4/7 a day on average; was read as 2 a day
        ({"frequency": 2, "period": 1, "periodUnit": "d", "dayOfWeek": ["mon", "thu"]}, "some days"),
    ],
)
def test_a_structured_timing_not_read_as_daily_is_refused(repeat: dict[str, Any], why: str) -> None:
    dosage = {"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}], "timing": {"repeat": repeat}}
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == "timing-unreadable", result
    assert why in result.text


def test_every_day_of_the_week_is_daily() -> None:
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    repeat = {"frequency": 2, "period": 1, "periodUnit": "d", "dayOfWeek": every_day}
    dosage = {"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}], "timing": {"repeat": repeat}}
    assert amount([dosage]).quantity == 2  # 1 tablet x 2 a day


def test_a_dose_with_a_comparator_is_refused() -> None:
    """R4: a Dosage's doseQuantity is a SimpleQuantity, which has no comparator (sqty-1). The schema does
    not check that invariant; "< 10 mg" was read as 10 mg."""
    repeat = {"frequency": 2, "period": 1, "periodUnit": "d"}
    dose = {"value": 10, "unit": "mg", "comparator": "<"}
    result = amount([{"doseAndRate": [{"doseQuantity": dose}], "timing": {"repeat": repeat}}])
    assert isinstance(result, DosageProblem) and result.code == "dose-comparator"
    high = {"doseRange": {"high": dose}}
    result = amount([{"doseAndRate": [high], "timing": {"repeat": repeat}}])
    assert isinstance(result, DosageProblem) and result.code == "dose-comparator"


def test_a_dose_range_with_no_upper_end_is_refused() -> None:
    """R4 Range: "low" alone is at least that much; its most is not said. Read as the dose before."""
    repeat = {"frequency": 2, "period": 1, "periodUnit": "d"}
    at_least_one = {"doseRange": {"low": {"value": 1, "unit": "tablet"}}}
    result = amount([{"doseAndRate": [at_least_one], "timing": {"repeat": repeat}}])
    assert isinstance(result, DosageProblem) and result.code == "dose-range-open"


@pytest.mark.parametrize(
    "ratio",
    [
        # per 24 of what? taken as days, it capped 2 tablets x 4 a day (8) at 8/24 of a tablet a day
        {"numerator": {"value": 8, "unit": "tablet"}, "denominator": {"value": 24}},
        # spoonfuls do not fit a tablet: ignored, the reading was 8 a day whatever the cap said
        {"numerator": {"value": 2, "unit": "spoon"}, "denominator": {"value": 1, "unit": "d"}},
        # nothing per no time
        {"numerator": {"value": 8, "unit": "tablet"}, "denominator": {"value": 0, "unit": "d"}},
    ],
)
def test_a_prescribed_maximum_that_cannot_be_read_is_refused(ratio: dict[str, Any]) -> None:
    repeat = {"frequency": 4, "period": 1, "periodUnit": "d"}
    dosage = {
        "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet"}}],
        "timing": {"repeat": repeat},
        "maxDosePerPeriod": ratio,
    }
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == "maximum-unreadable", result
    # nor does text rescue it: read alone, it would drop the maximum the prescriber set
    result = amount([dosage | {"text": "two tablets four times a day"}])
    assert isinstance(result, DosageProblem) and result.code == "maximum-unreadable", result


def test_a_structured_dose_without_frequency_is_a_problem() -> None:
    result = amount([{"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}])
    assert isinstance(result, DosageProblem) and result.code == "frequency-missing"


@pytest.mark.parametrize(
    ("text", "form", "expected", "unit"),
    [
        # a mass is a quantity of drug: 200 micrograms x 2 = 400 micrograms = 0.4 mg, never 400 tablets
        ("200 micrograms twice a day", DoseForm("tablet", Decimal("0.4"), False), "0.4", "mg"),
        # a rate on a patch: 10 microgram/hour worn, never 10 patches
        (
            "10 micrograms/hour applied once a week",
            DoseForm("patch", Decimal(10), True),
            "10",
            "microgram/hour",
        ),
        # "one and a half" and "1½" keep their half: 1.5 x 2 = 3
        ("one and a half tablets twice a day", TABLET, "3", "unit"),
        ("1½ tablets bd", TABLET, "3", "unit"),
        # an alternative counts its maximum: 2 x 6 (every 4 hours = 24/4) = 12
        ("a tablet or two every 4 to 6 hours", TABLET, "12", "unit"),
        ("10ml to 20ml every 4 hours when required", DoseForm("ml", Decimal(2), False), "120", "unit"),
        # Latin numerals: ii qds = 2 x 4
        ("ii qds prn", TABLET, "8", "unit"),
        ("i-ii tds", TABLET, "6", "unit"),
        # the maintenance dose counts, not the loading dose: 1 x 6
        ("two now, then one every 4 hours", TABLET, "6", "unit"),
        # a cap in mg below the frequency maximum: 2 x 30 mg x 6 = 360 mg, capped at 240 mg
        ("1-2 every 4 hours, maximum 240mg in 24 hours", TABLET, "240", "mg"),
        # a cap on doses: 2 tablets x min(6, 4) = 8
        ("2 tablets every 4 hours, not more than 4 doses in 24 hours", TABLET, "8", "unit"),
    ],
)
def test_masses_rates_fractions_alternatives_and_loading_doses_are_read(
    text: str, form: DoseForm, expected: str, unit: str
) -> None:
    result = read_dosage_text(text, form)
    assert isinstance(result, DailyAmount), result
    assert (result.quantity, result.unit) == (Decimal(expected), unit)


def test_a_loading_dose_is_noted_in_the_reading() -> None:
    result = read_dosage_text("two now, then one every 4 hours", TABLET)
    assert isinstance(result, DailyAmount) and result.loading == "2 now" and "loading" in result.basis


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("2 tablets qds as per pain clinic", "dosage-words-unread", ("per", "clinic")),
        ("5 qds", "dose-unit-missing", ("5",)),  # a bare number of a liquid: ml or mg?
        ("10mg (10ml) every 4 hours", "dose-inconsistent", ("10mg", "10ml")),
        ("apply one 25 microgram/hour patch and one 12", "dose-ambiguous", ("1", "12")),
    ],
)
def test_what_is_not_read_with_certainty_names_the_words(
    text: str, code: str, words: tuple[str, ...]
) -> None:
    form = DoseForm("ml", Decimal(2), False) if "qds" in text and "tablets" not in text else TABLET
    if "patch" in text:
        form = DoseForm("patch", Decimal(25), True)
    if "(" in text:
        form = DoseForm("ml", Decimal(2), False)
    result = read_dosage_text(text, form)
    assert isinstance(result, DosageProblem) and result.code == code
    assert set(words) <= set(result.words)


@pytest.mark.parametrize(
    ("text", "form", "expected", "unit"),
    [
        (
            "110 mg morphine a day: 1 x 100 mg tablet + 1 x 10 mg tablet, "
            "in divided doses as the prescriber directs",
            DoseForm("tablet", Decimal(100), False),
            "110",
            "mg",
        ),
        (
            "Apply 37 micrograms/hour: 1 x 25 micrograms/hour patch + 1 x 12 micrograms/hour patch "
            "worn at once",
            DoseForm("patch", Decimal(25), True),
            "37",
            RATE,
        ),
    ],
)
def test_a_taper_steps_own_text_back_from_the_gp_record_is_read_when_its_parts_add_up(
    text: str, form: DoseForm, expected: str, unit: str
) -> None:
    result = read_dosage_text(text, form)
    assert isinstance(result, DailyAmount) and (result.quantity, result.unit) == (Decimal(expected), unit)


def test_a_stated_total_whose_parts_do_not_add_up_is_refused() -> None:
    # 1 x 100 + 2 x 10 = 120, not 110
    result = read_dosage_text("110 mg morphine a day: 1 x 100 mg tablet + 2 x 10 mg tablet", TABLET)
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent"


def test_a_structured_dose_and_its_text_that_disagree_are_refused() -> None:
    # structured: 1 tablet twice a day (2 a day); text: 2 tablets twice a day (4 a day): which?
    dosage = {
        "text": "2 tablets twice a day",
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
        "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
    }
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent"


def test_a_structured_dose_and_its_text_that_agree_are_read() -> None:
    dosage = {
        "text": "one tablet twice a day",
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
        "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
    }
    assert amount([dosage]).quantity == 2


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        # the text says more than the structured dose: the patient may take up to twice as much
        ("1 tablet twice daily, may increase to 2 twice daily if pain", "dosage-words-unread", ("increase",)),
        ("one twice a day as per pain clinic", "dosage-words-unread", ("clinic",)),
        ("one tablet twice daily or three times daily", "dosage-words-unread", ("or",)),
        ("one twice a day and three times a day", "frequency-conflict", ()),
    ],
)
def test_a_structured_dose_beside_text_not_read_with_certainty_is_refused(
    text: str, code: str, words: tuple[str, ...]
) -> None:
    dosage = {
        "text": text,
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
        "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
    }
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == code, result
    assert set(words) <= set(result.words) and "may not be all it says" in result.text


@pytest.mark.parametrize("text", ["twice a day", "one tablet", "take as directed twice a day"])
def test_a_structured_dose_beside_text_that_only_says_less_stands(text: str) -> None:
    """Text giving only the frequency or only the dose, the same as the structured fields', adds nothing
    to them: the structured dose stands (1 tablet x 2 a day)."""
    dosage = {
        "text": text,
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
        "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
    }
    result = amount([dosage])
    assert isinstance(result, DailyAmount) and result.quantity == 2, result


# A pharmacist's review of the structured reader (2026-12-06) found each of these read to a wrong figure,
# not refused. Expected figures by hand from R4 Dosage and Timing (hl7.org/fhir/R4/datatypes.html#Timing,
# dosage.html) for a 30 mg tablet; each case says what was read before.
BD = {"frequency": 2, "period": 1, "periodUnit": "d"}
QDS = {"frequency": 4, "period": 1, "periodUnit": "d"}
ONE_TABLET = [{"doseQuantity": {"value": 1, "unit": "tablet"}}]
TWO_TABLETS = [{"doseQuantity": {"value": 2, "unit": "tablet"}}]
UCUM = "http://unitsofmeasure.org"
AT_MOST_8_A_DAY = {"numerator": {"value": 8, "unit": "tablet"}, "denominator": {"value": 1, "unit": "d"}}


def _dosage(dose: list[dict[str, Any]], timing: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {"doseAndRate": dose, "timing": timing if timing is not None else {"repeat": BD}} | more


@pytest.mark.parametrize(
    ("dosage", "code"),
    [
        # a period of 0 days: was an uncaught DivisionByZero
        (
            _dosage(ONE_TABLET, {"repeat": {"frequency": 1, "period": 0, "periodUnit": "d"}}),
            "timing-unreadable",
        ),
        # negative figures: -1 tablet bd was read as -2 a day (lowering the OME total)
        (_dosage([{"doseQuantity": {"value": -1, "unit": "tablet"}}]), "dose-not-positive"),
        (
            _dosage(ONE_TABLET, {"repeat": {"frequency": -2, "period": 1, "periodUnit": "d"}}),
            "timing-unreadable",
        ),
        (
            _dosage(ONE_TABLET, {"repeat": {"frequency": 1, "period": -1, "periodUnit": "d"}}),
            "timing-unreadable",
        ),
        (
            _dosage(
                ONE_TABLET,
                maxDosePerPeriod={
                    "numerator": {"value": -1, "unit": "tablet"},
                    "denominator": {"value": 1, "unit": "d"},
                },
            ),
            "maximum-unreadable",
        ),
        # a maximum of "240" with no unit: 240 tablets (7,200 mg) a day, or 240 mg? was read as 240 tablets
        (
            {
                "asNeededBoolean": True,
                "maxDosePerPeriod": {"numerator": {"value": 240}, "denominator": {"value": 1, "unit": "d"}},
            },
            "maximum-unreadable",
        ),
        # the timing's code and its repeat disagree: QID beside once a day was read as 1 a day
        (
            _dosage(
                ONE_TABLET,
                {
                    "code": {"coding": [{"code": "QID"}]},
                    "repeat": {"frequency": 1, "period": 1, "periodUnit": "d"},
                },
            ),
            "timing-conflict",
        ),
        (
            _dosage(ONE_TABLET, {"code": {"coding": [{"code": "BID"}]}, "repeat": {"when": ["NIGHT"]}}),
            "timing-conflict",
        ),
        (
            _dosage(ONE_TABLET, {"code": {"coding": [{"code": "WK"}]}, "repeat": {"timeOfDay": ["08:00"]}}),
            "timing-conflict",
        ),
        # "before meals" alone: each meal, but how many? was read as once a day
        (_dosage(ONE_TABLET, {"repeat": {"when": ["AC"]}}), "timing-unreadable"),
        # unit "tablet", UCUM code "mg": 30 tablets bd (60 a day) was read; 30 mg bd is 2 tablets
        (
            _dosage([{"doseQuantity": {"value": 30, "unit": "tablet", "system": UCUM, "code": "mg"}}]),
            "dose-unit-conflict",
        ),
        # unit "mg", code "ug": read as mg, 1000 times the microgram dose
        (
            _dosage([{"doseQuantity": {"value": 30, "unit": "mg", "system": UCUM, "code": "ug"}}]),
            "dose-unit-conflict",
        ),
        # two doseAndRate entries, 1 tablet (30 mg) and 60 mg: only the first was read (2 tablets a day)
        (_dosage([*ONE_TABLET, {"doseQuantity": {"value": 60, "unit": "mg"}}]), "dose-entries-differ"),
        # times of day listed beyond the frequency in a period over a day: once every 2 days at 08:00
        # and 20:00 (1 a day on average) was read as 0.5 a day
        (
            _dosage(
                ONE_TABLET,
                {"repeat": {"frequency": 1, "period": 2, "periodUnit": "d", "timeOfDay": ["08:00", "20:00"]}},
            ),
            "timing-conflict",
        ),
        # inverted ranges: frequencyMax 2 under frequency 4 was read as 2 a day
        (
            _dosage(
                ONE_TABLET, {"repeat": {"frequency": 4, "frequencyMax": 2, "period": 1, "periodUnit": "d"}}
            ),
            "timing-unreadable",
        ),
        (
            _dosage(ONE_TABLET, {"repeat": {"frequency": 1, "period": 6, "periodMax": 4, "periodUnit": "h"}}),
            "timing-unreadable",
        ),
        (
            _dosage(
                [
                    {
                        "doseRange": {
                            "low": {"value": 2, "unit": "tablet"},
                            "high": {"value": 1, "unit": "tablet"},
                        }
                    }
                ]
            ),
            "dose-range-inverted",
        ),
    ],
)
def test_a_structured_dosage_that_says_no_one_figure_is_refused(dosage: dict[str, Any], code: str) -> None:
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == code, result


SNOMED = "http://snomed.info/sct"


# The second review of the rewritten reader (2026-12-06): each read to a wrong figure or raised.
@pytest.mark.parametrize(
    ("dosage", "code"),
    [
        # a SNOMED-coded unit (258684004, milligram) with no unit text: read as 5 tablets a dose (10 a
        # day, 300 mg of codeine) by the rewrite; the reader does not map SNOMED units
        (
            _dosage([{"doseQuantity": {"value": 5, "system": SNOMED, "code": "258684004"}}]),
            "dose-unit-unknown",
        ),
        # figures no prescription comes near: 1e25 tablets raised InvalidOperation formatting the figure,
        # a period of 1e-300 hours a per-day count past any formatting
        (_dosage([{"doseQuantity": {"value": 1e25, "unit": "tablet"}}]), "dose-implausible"),
        (
            _dosage(ONE_TABLET, {"repeat": {"frequency": 1, "period": 1e-300, "periodUnit": "h"}}),
            "timing-unreadable",
        ),
        (
            _dosage(ONE_TABLET, {"repeat": {"frequency": 1, "period": 1, "periodUnit": "s"}}),
            "timing-unreadable",
        ),
        # zero: an active opioid at 0 a day is OME 0 with the total complete
        (_dosage([{"doseQuantity": {"value": 0, "unit": "tablet"}}]), "dose-not-positive"),
        (_dosage(ONE_TABLET, maxDosePerAdministration={"value": 0, "unit": "tablet"}), "maximum-unreadable"),
        # the maximum's period: text "hour" and UCUM code "d" disagree (read as a day: 96 a day allowed)
        (
            _dosage(
                ONE_TABLET,
                maxDosePerPeriod={
                    "numerator": {"value": 4, "unit": "tablet"},
                    "denominator": {"value": 1, "unit": "hour", "system": UCUM, "code": "d"},
                },
            ),
            "maximum-unreadable",
        ),
        # a fixed dose above its own maximum per dose: 2 tablets, at most 1 a dose; was held to 1
        (_dosage(TWO_TABLETS, maxDosePerAdministration={"value": 1, "unit": "tablet"}), "dose-above-maximum"),
        # a UCUM code that fits no dose of a tablet beside the unit "tablet": was read as tablets
        (
            _dosage([{"doseQuantity": {"value": 1, "unit": "tablet", "system": UCUM, "code": "mL"}}]),
            "dose-unit-conflict",
        ),
        # a dose unit text might make clear, and a timing text cannot stand in for (Mondays only): the
        # timing's refusal comes first (the text was read alone: 1 a day)
        (
            _dosage(
                [{"doseQuantity": {"value": 1, "unit": "tab(s)"}}],
                {"repeat": BD | {"dayOfWeek": ["mon"]}},
                text="one tablet twice a day",
            ),
            "timing-unreadable",
        ),
    ],
)
def test_a_structured_dosage_refused_after_the_second_review(dosage: dict[str, Any], code: str) -> None:
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == code, result


def test_a_maximum_per_period_in_hours_by_ucum_code() -> None:
    """24 "hrs" coded h: 8 tablets per 24 hours is 8 a day, holding 2 tablets qds (8) to 8."""
    ratio = {
        "numerator": {"value": 8, "unit": "tablet"},
        "denominator": {"value": 24, "unit": "hrs", "system": UCUM, "code": "h"},
    }
    result = amount([_dosage(TWO_TABLETS, {"repeat": QDS}, maxDosePerPeriod=ratio)])
    assert isinstance(result, DailyAmount) and result.quantity == 8, result


def test_dosages_over_different_spans_are_phases_even_without_a_sequence() -> None:
    """2 tablets bd 1-14 Jan then 1 bd 15-28 Jan, neither with a sequence: they were added up (6 a day);
    the most on any day is 4, and which applies today depends on the date: refused as phases are."""
    first = _dosage(
        TWO_TABLETS, {"repeat": BD | {"boundsPeriod": {"start": "2026-01-01", "end": "2026-01-14"}}}
    )
    then = _dosage(
        ONE_TABLET, {"repeat": BD | {"boundsPeriod": {"start": "2026-01-15", "end": "2026-01-28"}}}
    )
    result = amount([first, then])
    assert isinstance(result, DosageProblem) and result.code == "dose-changes-over-time"
    # the same span on both: taken together, 2 x 2 + 1 x 2 = 6 a day
    span = {"boundsPeriod": {"start": "2026-01-01"}}
    assert (
        amount(
            [_dosage(TWO_TABLETS, {"repeat": BD | span}), _dosage(ONE_TABLET, {"repeat": BD | span})]
        ).quantity
        == 6
    )


@pytest.mark.parametrize(
    ("dosage", "tablets_a_day"),
    [
        # every 8 hours is 3 a day exactly (was 2.999...9: refused beside the same text as inconsistent)
        (
            _dosage(
                ONE_TABLET,
                {"repeat": {"frequency": 1, "period": 8, "periodUnit": "h"}},
                text="one tablet every 8 hours",
            ),
            "3",
        ),
        (_dosage(ONE_TABLET, {"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}}), "6"),
        # R4 count: the whole course is one administration of 2 tablets (was 8 a day)
        (_dosage(TWO_TABLETS, {"repeat": QDS | {"count": 1}}), "2"),
        # a maximum of 1 tablet per dose holds a 1-2 tablet qds dose to 1 a time: 4 a day (was 8)
        (
            _dosage(
                [
                    {
                        "doseRange": {
                            "low": {"value": 1, "unit": "tablet"},
                            "high": {"value": 2, "unit": "tablet"},
                        }
                    }
                ],
                {"repeat": QDS},
                maxDosePerAdministration={"value": 1, "unit": "tablet"},
            ),
            "4",
        ),
        # what agrees is read: code BID and a repeat of twice a day; a meal code with its frequency;
        # two doseAndRate entries saying 1 tablet and 30 mg (the same); unit and UCUM code both mg
        (_dosage(ONE_TABLET, {"code": {"coding": [{"code": "BID"}]}, "repeat": BD}), "2"),
        (
            _dosage(ONE_TABLET, {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d", "when": ["AC"]}}),
            "3",
        ),
        (_dosage([*ONE_TABLET, {"doseQuantity": {"value": 30, "unit": "mg"}}]), "2"),
        (_dosage([{"doseQuantity": {"value": 30, "unit": "mg", "system": UCUM, "code": "mg"}}]), "60 mg"),
    ],
)
def test_a_structured_dosage_read_by_hand(dosage: dict[str, Any], tablets_a_day: str) -> None:
    result = amount([dosage])
    assert isinstance(result, DailyAmount), result
    figure, _, unit = tablets_a_day.partition(" ")
    assert (result.quantity, result.unit) == (Decimal(figure), MG if unit == "mg" else UNIT), result


def test_text_does_not_rescue_a_structured_field_that_says_more() -> None:
    """Mondays and Thursdays only, with text "one tablet twice a day": the text alone would read 2 a day
    every day and drop the days; the dosage is refused."""
    timing = {"repeat": BD | {"dayOfWeek": ["mon", "thu"]}}
    result = amount([_dosage(ONE_TABLET, timing, text="one tablet twice a day")])
    assert isinstance(result, DosageProblem) and result.code == "timing-unreadable"


def test_a_maximum_that_cannot_be_compared_with_the_dose_is_refused() -> None:
    """30 mg qds (120 mg a day) with a maximum of 2 tablets a day, for a product whose strength is not
    known: the maximum could not be applied and was ignored (120 mg read). With the strength known, 30
    mg a tablet, the maximum is 60 mg a day and holds the figure to it."""
    dosage = _dosage(
        [{"doseQuantity": {"value": 30, "unit": "mg"}}],
        {"repeat": QDS},
        maxDosePerPeriod={
            "numerator": {"value": 2, "unit": "tablet"},
            "denominator": {"value": 1, "unit": "d"},
        },
    )
    result = max_daily_amount([dosage], DoseForm("tablet", None, is_patch=False))
    assert isinstance(result, DosageProblem) and result.code == "maximum-unreadable", result
    held = amount([dosage])
    assert isinstance(held, DailyAmount) and (held.quantity, held.unit) == (Decimal(60), MG), held


# A third review (2026-12-06, session 12) of what the reader left unchecked. Figures by hand from R4
# Dosage and Timing (hl7.org/fhir/R4/dosage.html, datatypes.html#Timing; event-timing codes from
# valueset-event-timing.html, GTSAbbreviation from v3-GTSAbbreviation) for a 30 mg tablet or a patch;
# each case says what was read before.
@pytest.mark.parametrize(
    ("text", "code"),
    [
        # structured 1 tablet x 2 a day; the text's dose is 2 tablets (4 a day at twice a day): was 2
        ("two tablets", "dose-inconsistent"),
        ("take 2", "dose-inconsistent"),
        ("2 tablets when required", "dose-inconsistent"),
        # the text's times a day are 3, or 1 (at night), not the structured 2: was 2
        ("three times a day", "dose-inconsistent"),
        ("at night", "dose-inconsistent"),
        ("every 6 hours", "dose-inconsistent"),  # 24 / 6 = 4 a day
    ],
)
def test_text_that_says_part_of_the_dosage_and_contradicts_it_is_refused(text: str, code: str) -> None:
    result = amount([_dosage(ONE_TABLET, text=text)])
    assert isinstance(result, DosageProblem) and result.code == code, result


@pytest.mark.parametrize(
    ("text", "tablets_a_day", "as_needed"),
    [
        ("one tablet", "2", False),  # 1 tablet, the structured 1 tablet x 2 a day
        ("twice a day", "2", False),
        ("every 12 hours", "2", False),  # 24 / 12 = 2 a day, as the structured timing
        # the text adds "when required": the figure stands and is taken when required (was not)
        ("one tablet when required", "2", True),
    ],
)
def test_text_that_says_part_of_the_dosage_and_agrees_stands(
    text: str, tablets_a_day: str, as_needed: bool
) -> None:
    result = amount([_dosage(ONE_TABLET, text=text)])
    assert isinstance(result, DailyAmount), result
    assert (result.quantity, result.unit, result.as_needed) == (Decimal(tablets_a_day), UNIT, as_needed)


@pytest.mark.parametrize(
    ("text", "tablets_a_day"),
    [
        # structured 2 tablets x 4 a day = 8; the text's maximum is 6 tablets in 24 hours: 6 (was 8)
        ("max 6 in 24 hours", "6"),
        ("maximum 6 tablets in 24 hours", "6"),
        # 3 doses a day of the structured 2 tablets: 2 x 3 = 6 (was 8)
        ("not more than 3 doses a day", "6"),
        # a maximum above the structured figure leaves it: 8
        ("max 10 tablets in 24 hours", "8"),
    ],
)
def test_a_maximum_written_only_in_the_text_holds_the_structured_dose(text: str, tablets_a_day: str) -> None:
    result = amount([_dosage(TWO_TABLETS, {"repeat": QDS}, text=text)])
    assert isinstance(result, DailyAmount), result
    assert (result.quantity, result.unit) == (Decimal(tablets_a_day), UNIT), result


def test_a_frequency_in_the_text_beside_a_structured_dose_with_only_a_maximum_is_refused() -> None:
    """2 tablets, at most 8 a day, no timing; the text says twice a day (2 x 2 = 4 a day). The structured
    fields alone read 8 (the maximum); the two are not combined here, so the dosage is refused."""
    dosage = {
        "doseAndRate": TWO_TABLETS,
        "maxDosePerPeriod": AT_MOST_8_A_DAY,
        "text": "twice a day",
    }
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == "dose-text-partial", result


def test_text_with_the_same_daily_amount_in_another_regimen_is_refused() -> None:
    """Structured 2 tablets x 2 a day = 4; the text 1 tablet x 4 a day = 4. The same daily figure, but the
    dose and the times a day differ: which is the patient taking? (was read as 4)."""
    result = amount([_dosage(TWO_TABLETS, text="one tablet four times a day")])
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent", result


@pytest.mark.parametrize(
    ("repeat", "code"),
    [
        # "at night" and "before sleep": one bedtime dose written twice? was read as 2 a day
        ({"when": ["NIGHT", "HS"]}, "timing-conflict"),
        ({"when": ["MORN", "WAKE"]}, "timing-conflict"),
        ({"when": ["CM", "MORN"]}, "timing-conflict"),
        ({"when": ["NIGHT", "NIGHT"]}, "timing-conflict"),
        ({"timeOfDay": ["08:00:00", "08:00:00"]}, "timing-conflict"),
        # R4 tim-10: timeOfDay or when, not both; was read as 1 a day (the longer list)
        ({"timeOfDay": ["08:00:00"], "when": ["NIGHT"]}, "timing-unreadable"),
    ],
)
def test_times_of_day_named_twice_are_refused(repeat: dict[str, Any], code: str) -> None:
    result = amount([_dosage(ONE_TABLET, {"repeat": repeat})])
    assert isinstance(result, DosageProblem) and result.code == code, result


@pytest.mark.parametrize(
    ("repeat", "tablets_a_day"),
    [
        ({"when": ["MORN", "NIGHT"]}, "2"),  # morning and night: 2 administrations of 1 tablet
        ({"when": ["CM", "CD", "CV"]}, "3"),  # with breakfast, lunch and dinner
        ({"timeOfDay": ["08:00:00", "20:00:00"]}, "2"),
    ],
)
def test_distinct_times_of_day_still_count(repeat: dict[str, Any], tablets_a_day: str) -> None:
    assert amount([_dosage(ONE_TABLET, {"repeat": repeat})]).quantity == Decimal(tablets_a_day)


GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"


def test_a_timing_code_of_another_system_is_not_read_as_an_abbreviation() -> None:
    """A SNOMED CT coding "QID" first, the GTSAbbreviation BID second: the first coding was read (4 a
    day); BID, twice a day, is 2 tablets a day."""
    codings = [{"system": "http://snomed.info/sct", "code": "QID"}, {"system": GTS, "code": "BID"}]
    result = amount([_dosage(ONE_TABLET, {"code": {"coding": codings}})])
    assert isinstance(result, DailyAmount) and result.quantity == 2, result


def test_timing_codes_that_say_different_frequencies_are_refused() -> None:
    codings = [{"system": GTS, "code": "BID"}, {"system": GTS, "code": "TID"}]  # 2 a day or 3?
    result = amount([_dosage(ONE_TABLET, {"code": {"coding": codings}})])
    assert isinstance(result, DosageProblem) and result.code == "timing-conflict", result


ONE_IN_72_HOURS = {
    "numerator": {"value": 1, "unit": "patch"},
    "denominator": {"value": 72, "unit": "h", "system": UCUM, "code": "h"},
}


@pytest.mark.parametrize(
    ("dosage", "code"),
    [
        # a maximum alone: 1 patch in 72 hours was read as 1/3 patch worn at once, a third of the opioid
        ({"maxDosePerPeriod": ONE_IN_72_HOURS}, "maximum-unreadable"),
        (
            {"maxDosePerPeriod": ONE_IN_72_HOURS, "text": "apply one patch every 72 hours"},
            "maximum-unreadable",
        ),
        # 2 patches at once, at most 1 applied in 72 hours: was read as 2 worn
        (
            {
                "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "patch"}}],
                "maxDosePerPeriod": ONE_IN_72_HOURS,
            },
            "dose-above-maximum",
        ),
    ],
)
def test_a_patchs_maximum_per_period_is_not_read_as_patches_worn(dosage: dict[str, Any], code: str) -> None:
    result = amount([dosage], "patch", is_patch=True)
    assert isinstance(result, DosageProblem) and result.code == code, result


def test_a_patch_within_its_maximum_per_period_is_the_patches_worn() -> None:
    dosage = {
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "patch"}}],
        "maxDosePerPeriod": ONE_IN_72_HOURS,
    }
    result = amount([dosage], "patch", is_patch=True)
    assert isinstance(result, DailyAmount) and (result.quantity, result.unit) == (Decimal(1), UNIT), result


# A pharmacist's review of the change above (2026-12-06) found these read to a wrong figure, or a clear
# and common dosage refused. By hand from R4 Dosage/Timing (and STU3's GTSAbbreviation address,
# hl7.org/fhir/STU3/valueset-timing-abbreviation.html), for a 30 mg tablet unless named.
STU3_GTS = "http://hl7.org/fhir/v3/GTSAbbreviation"
OXYCODONE_10 = DoseForm(
    "tablet", Decimal(10), False, frozenset({Decimal(5), Decimal(10), Decimal(20)}), frozenset({Decimal(10)})
)
EVERY_4_HOURS = {"frequency": 1, "period": 4, "periodUnit": "h"}  # 24 / 4 = 6 a day


def test_a_timing_code_at_stu3s_address_is_read() -> None:
    """GP Connect's STU3 dosages keep STU3's system for GTSAbbreviation. QID (4 a day) beside a repeat of
    once a day disagrees; BID alone is 2 a day. Both were missed once only R4's address was read."""
    qid = {
        "repeat": {"frequency": 1, "period": 1, "periodUnit": "d"},
        "code": {"coding": [{"system": STU3_GTS, "code": "QID"}]},
    }
    refused = amount([_dosage(ONE_TABLET, qid)])
    assert isinstance(refused, DosageProblem) and refused.code == "timing-conflict", refused
    bid = amount([_dosage(ONE_TABLET, {"code": {"coding": [{"system": STU3_GTS, "code": "BID"}]}})])
    assert isinstance(bid, DailyAmount) and bid.quantity == 2, bid


def test_timing_codes_of_one_frequency_at_different_times_are_refused() -> None:
    """AM and PM: once a day each, but which? (was read as 1 a day)."""
    result = amount([_dosage(ONE_TABLET, {"code": {"coding": [{"code": "AM"}, {"code": "PM"}]}})])
    assert isinstance(result, DosageProblem) and result.code == "timing-conflict", result


def test_between_meals_codes_share_their_part_of_the_day() -> None:
    """ICM (between breakfast and lunch) and MORN.late: one late-morning dose written twice? (was 2)."""
    result = amount([_dosage(ONE_TABLET, {"repeat": {"when": ["ICM", "MORN.late"]}})])
    assert isinstance(result, DosageProblem) and result.code == "timing-conflict", result


def test_a_dose_in_the_text_beside_a_timing_with_only_a_maximum_is_refused() -> None:
    """Twice a day, at most 8 tablets a day, no structured dose; the text says 2 tablets (2 x 2 = 4 a
    day). Read as the maximum, 8, before: the text's dose and the structured timing are not combined."""
    dosage = {
        "timing": {"repeat": BD},
        "maxDosePerPeriod": AT_MOST_8_A_DAY,
        "text": "2 tablets",
    }
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == "dose-text-partial", result


@pytest.mark.parametrize(
    "dosage",
    [
        # the whole text says "when required" beside a structured dose that does not: 1 x 4 = 4, when required
        _dosage(ONE_TABLET, {"repeat": QDS}, text="1 tablet four times a day when required"),
        # asNeededBoolean, the dose in text alone: 1 x 4 = 4 a day, when required (was not when required)
        {"asNeededBoolean": True, "text": "1 tablet four times a day"},
    ],
)
def test_when_required_is_kept_from_either_side(dosage: dict[str, Any]) -> None:
    result = amount([dosage])
    assert isinstance(result, DailyAmount) and (result.quantity, result.as_needed) == (Decimal(4), True), (
        result
    )


def test_the_patient_instruction_is_read_beside_the_text() -> None:
    """Text "1-2 tablets every 4-6 hours when required" (2 x 24/4 = 12 a day), patientInstruction
    "Maximum 8 tablets in 24 hours": 8 (was 12, the patient instruction unread)."""
    dosage = {
        "text": "1-2 tablets every 4-6 hours when required",
        "patientInstruction": "Maximum 8 tablets in 24 hours",
    }
    result = amount([dosage])
    assert isinstance(result, DailyAmount) and (result.quantity, result.unit) == (Decimal(8), UNIT), result
    unread = amount([dosage | {"patientInstruction": "or as advised by the pain clinic"}])
    assert isinstance(unread, DosageProblem) and unread.code == "dosage-words-unread", unread


def test_a_structured_timing_without_a_dose_is_checked_against_the_text() -> None:
    """Four times a day, no structured dose; the text "1 tablet twice a day": 2 or 4? (was 2)."""
    result = amount([{"timing": {"repeat": QDS}, "text": "1 tablet twice a day"}])
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent", result


def test_a_bare_maximum_that_may_be_the_strength_is_refused() -> None:
    """Oxycodone 10 mg, 1 tablet every 4 hours (6 a day), "max 20 in 24 hours": 20 tablets (no cap, 6)
    or 20 mg (2 tablets)? It was read as 20 tablets, 6 a day. In the text alone, the same."""
    dosage = _dosage(ONE_TABLET, {"repeat": EVERY_4_HOURS}, text="max 20 in 24 hours")
    result = max_daily_amount([dosage], OXYCODONE_10)
    assert isinstance(result, DosageProblem) and result.code == "cap-ambiguous", result
    alone = read_dosage_text("1 tablet every 4 hours, max 20 in 24 hours", OXYCODONE_10)
    assert isinstance(alone, DosageProblem) and alone.code == "cap-ambiguous", alone


@pytest.mark.parametrize(
    ("dosage", "form", "expected"),
    [
        # a patch changed on named days: the patches worn, 1 (refused by the first change)
        (
            {
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "patch"}}],
                "text": "change every Monday and Thursday",
            },
            DoseForm("patch", Decimal(25), True),
            "1",
        ),
        # 1 tablet (30 mg, the tablet's strength) twice a day: 1 x 2 = 2
        (_dosage(ONE_TABLET, text="1 tablet (30mg)"), TABLET, "2"),
        # 5 ml (10 mg of a 2 mg/ml liquid) every 4 hours when required: 5 x 6 = 30 ml
        (
            _dosage(
                [{"doseQuantity": {"value": 5, "unit": "ml"}}], {"repeat": EVERY_4_HOURS}, text="5ml (10mg)"
            ),
            DoseForm("ml", Decimal(2), False),
            "30",
        ),
        # 1-2 tablets every 4-6 hours when required (2 x 6 = 12), the text adding "maximum eight in 24
        # hours": 8 (it was refused: 12 against the text's 8)
        (
            _dosage(
                [
                    {
                        "doseRange": {
                            "low": {"value": 1, "unit": "tablet"},
                            "high": {"value": 2, "unit": "tablet"},
                        }
                    }
                ],
                {"repeat": {"frequency": 1, "period": 4, "periodMax": 6, "periodUnit": "h"}},
                asNeededBoolean=True,
                text="ONE OR TWO TO BE TAKEN EVERY FOUR TO SIX HOURS WHEN REQUIRED. "
                "MAXIMUM EIGHT IN 24 HOURS",
            ),
            TABLET,
            "8",
        ),
        # 2 tablets x 4 a day = 8, the text "2 tablets, max 6 in 24 hours": 6
        (_dosage(TWO_TABLETS, {"repeat": QDS}, text="2 tablets, max 6 in 24 hours"), TABLET, "6"),
    ],
)
def test_clear_dosages_the_first_change_refused_are_read(
    dosage: dict[str, Any], form: DoseForm, expected: str
) -> None:
    result = max_daily_amount([dosage], form)
    assert isinstance(result, DailyAmount) and (result.quantity, result.unit) == (Decimal(expected), UNIT), (
        result
    )


def test_a_whole_text_whose_maximum_hides_another_frequency_is_refused() -> None:
    """2 tablets x 4 a day = 8; the text "2 tablets every 2 hours, max 8 in 24 hours" is 8 too, but at 12
    times a day before its cap: not the same prescription."""
    result = amount(
        [_dosage(TWO_TABLETS, {"repeat": QDS}, text="2 tablets every 2 hours, max 8 in 24 hours")]
    )
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent", result


# A second pharmacist's review (2026-12-06) of the two changes above. By hand from R4 Dosage/Timing,
# for a 30 mg tablet unless named; each case says what was read before.
@pytest.mark.parametrize(
    ("dosage", "why"),
    [
        # twice a day, no structured dose; the text "2 tablets, max 8 in 24 hours" has no times a day:
        # 2 x 2 = 4 or 8? (was 8, the text's maximum)
        ({"timing": {"repeat": BD}, "text": "2 tablets, max 8 in 24 hours"}, "times a day"),
        # four times a day, no structured dose; the text's 2 administrations (1 morning + 1 night): was 2
        ({"timing": {"repeat": QDS}, "text": "1 in the morning and 1 at night"}, "times a day"),
        # a structured dose of 1 tablet, no timing; the text "2 tablets twice a day" (2 x 2 = 4): was 4
        ({"doseAndRate": ONE_TABLET, "text": "2 tablets twice a day"}, "doses"),
        # 60 mg, no timing; the text "1 tablet twice a day" is 30 mg a dose (2 x 30 = 60 mg a day), but
        # 60 mg twice a day would be 120 mg: was read as 2 tablets
        (
            {"doseAndRate": [{"doseQuantity": {"value": 60, "unit": "mg"}}], "text": "1 tablet twice a day"},
            "doses",
        ),
    ],
)
def test_a_text_read_alone_is_checked_against_the_structured_dose_or_timing_beside_it(
    dosage: dict[str, Any], why: str
) -> None:
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent" and why in result.text, (
        result
    )


@pytest.mark.parametrize(
    "instruction",
    [
        "three tablets at night",  # 1 + 3 = 4 by it, 1 + 2 = 3 by the text: was 3
        "four times a day",  # 4 administrations against the text's 2: was 3
    ],
)
def test_a_patient_instruction_with_one_dose_beside_a_text_of_several_is_refused(instruction: str) -> None:
    result = amount([{"text": "1 in the morning and 2 at night", "patientInstruction": instruction}])
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent", result


@pytest.mark.parametrize(
    "dosage",
    [
        # the maximum in the text, the same dose and times a day in the patient instruction without it:
        # 2 x 24/4 = 12 capped at 8 = 8, whichever field holds the maximum (was refused one way round)
        {
            "text": "ONE OR TWO TO BE TAKEN EVERY FOUR TO SIX HOURS WHEN REQUIRED. MAXIMUM EIGHT IN 24 HOURS",
            "patientInstruction": "Take one or two tablets every four to six hours when required",
        },
        {
            "text": "Take one or two tablets every four to six hours when required",
            "patientInstruction": "ONE OR TWO TO BE TAKEN EVERY FOUR TO SIX HOURS WHEN REQUIRED. "
            "MAXIMUM EIGHT IN 24 HOURS",
        },
        # the maximum structured (8 a day), the text without it: 1-2 every 4-6 hours = 12, held to 8
        _dosage(
            [{"doseRange": {"low": {"value": 1, "unit": "tablet"}, "high": {"value": 2, "unit": "tablet"}}}],
            {"repeat": {"frequency": 1, "period": 4, "periodMax": 6, "periodUnit": "h"}},
            asNeededBoolean=True,
            maxDosePerPeriod={
                "numerator": {"value": 8, "unit": "tablet"},
                "denominator": {"value": 1, "unit": "d"},
            },
            text="1-2 tablets every 4-6 hours when required",
        ),
    ],
)
def test_a_maximum_written_in_one_place_holds_whichever_field_it_is_in(dosage: dict[str, Any]) -> None:
    result = amount([dosage])
    assert isinstance(result, DailyAmount) and (result.quantity, result.as_needed) == (Decimal(8), True), (
        result
    )


def test_two_different_maxima_are_refused() -> None:
    """Structured at most 8 a day; the text's own maximum 10 in 24 hours: which? (the lower was read)."""
    dosage = _dosage(
        TWO_TABLETS,
        {"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}},
        maxDosePerPeriod=AT_MOST_8_A_DAY,
        text="2 tablets every 4 hours, max 10 in 24 hours",
    )
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent", result


@pytest.mark.parametrize(
    "instruction",
    [
        # BNF cautionary labels 25, 21, 30 (as the BNF prints it) and 19: advice, not dose (were refused)
        "Swallow this medicine whole. Do not chew or crush.",
        "Take with or just after food, or a meal.",
        "Contains paracetamol. Do not take anything else containing paracetamol while you are taking this "
        "medicine. Talk to a doctor at once if you take too much of this medicine, even if you feel well.",
        "Warning: This medicine makes you sleepy. If you still feel sleepy the next day, do not drive or use "
        "tools or machines. Do not drink alcohol.",
        "This medicine may make you sleepy",
    ],
)
def test_cautionary_labels_in_the_patient_instruction_are_advice(instruction: str) -> None:
    result = amount([_dosage(ONE_TABLET, text="1 tablet twice a day", patientInstruction=instruction)])
    assert isinstance(result, DailyAmount) and result.quantity == 2, result  # 1 tablet x 2 a day


LABEL_29 = "Do not take more than 2 at any one time. Do not take more than 8 in 24 hours."
"""BNF cautionary label 29, as GP systems print it beside co-codamol and other paracetamol combinations."""


def test_a_maximum_a_time_holds_the_dose_beside_it() -> None:
    """BNF label 29 beside "1 tablet twice a day": 1 a time is within 2, 1 x 2 = 2 a day within 8 (it was
    refused, its words not read); beside 3 tablets three times a day, 3 a time is above 2: refused."""
    result = amount([_dosage(ONE_TABLET, text="1 tablet twice a day", patientInstruction=LABEL_29)])
    assert isinstance(result, DailyAmount) and result.quantity == 2, result
    three = amount([{"text": "3 tablets three times a day", "patientInstruction": LABEL_29}])
    assert isinstance(three, DosageProblem) and three.code == "dose-above-maximum", three


@pytest.mark.parametrize(
    "dosage",
    [
        # "1-2 every 4 hours": 2 x 6 = 12 a day; label 29's "not more than 8 in 24 hours" holds it to 8
        {"text": f"1-2 every 4 hours. {LABEL_29}"},
        {"text": "1-2 every 4 hours", "patientInstruction": LABEL_29},
        # as an R4 additionalInstruction (a BNF label's place): it was not read at all, so 12
        {"text": "1-2 every 4 hours", "additionalInstruction": [{"text": LABEL_29}]},
        {
            "text": "1-2 every 4 hours",
            "additionalInstruction": [
                {"coding": [{"system": "http://snomed.info/sct", "display": LABEL_29}]}
            ],
        },
    ],
)
def test_bnf_label_29_holds_the_figure_wherever_it_is_written(dosage: dict[str, Any]) -> None:
    result = amount([dosage])
    assert isinstance(result, DailyAmount) and result.quantity == 8, result


@pytest.mark.parametrize(
    "dosage",
    [
        {"text": f"3 tablets four times a day. {LABEL_29}"},  # 3 a time, above 2
        {"text": "90mg four times a day. Do not take more than 2 at any one time"},  # 3 of 30 mg, above 2
        {"text": "1 in the morning and 2 at night", "patientInstruction": "max 1 tablet at a time"},
    ],
)
def test_a_dose_above_its_maximum_a_time_is_refused(dosage: dict[str, Any]) -> None:
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == "dose-above-maximum", result


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        # the maximum read, the advice beside it not (the whole was refused, its words not read): 2 x 6 = 12
        # held to 8
        ("Do not take more than 8 tablets in 24 hours. Leave at least 4 hours between doses.", "8"),
        ("If you need to take this for more than 3 days see your doctor. Max 8 in 24 hours", "8"),
    ],
)
def test_an_additional_instructions_maximum_is_read_beside_advice(instruction: str, expected: str) -> None:
    result = amount([{"text": "1-2 every 4 hours", "additionalInstruction": [{"text": instruction}]}])
    assert isinstance(result, DailyAmount) and result.quantity == Decimal(expected), result


def test_advice_as_an_additional_instruction_changes_nothing() -> None:
    """ "Swallow whole" (BNF label 25) as an additionalInstruction: 2 x 6 = 12 a day, as without it."""
    result = amount([{"text": "1-2 every 4 hours", "additionalInstruction": [{"text": "Swallow whole"}]}])
    assert isinstance(result, DailyAmount) and result.quantity == 12, result


@pytest.mark.parametrize(
    ("form", "text", "expected"),
    [
        # co-codamol 8/500, 1 four times a day (4), max 8: 8 mg would be one dose a day, so 8 tablets; 4
        (
            DoseForm(
                "tablet",
                Decimal(8),
                False,
                frozenset({Decimal(8), Decimal(500)}),
                frozenset({Decimal(8), Decimal(500)}),
            ),
            "1 tablet four times a day, max 8 in 24 hours",
            "4",
        ),
        # oxycodone 5 mg, 1-2 every 4 hours (2 x 6 = 12), max 10: 10 mg is one dose of 2, so 10 tablets
        (
            DoseForm(
                "tablet", Decimal(5), False, frozenset({Decimal(5), Decimal(10)}), frozenset({Decimal(5)})
            ),
            "1-2 tablets every 4 hours, max 10 in 24 hours",
            "10",
        ),
    ],
)
def test_a_bare_maximum_that_as_a_mass_would_be_one_dose_is_a_count(
    form: DoseForm, text: str, expected: str
) -> None:
    result = read_dosage_text(text, form)
    assert isinstance(result, DailyAmount) and (result.quantity, result.unit) == (Decimal(expected), UNIT), (
        result
    )


# A third review (2026-12-06) over some 290 dosage shapes written as GP systems write them. By hand; each
# case says what was read before.
MST_30 = DoseForm("tablet", Decimal(30), False, frozenset({Decimal(30)}), frozenset({Decimal(30)}))
MORNING_AND_NIGHT = "One tablet in the morning and one at night"


@pytest.mark.parametrize(
    "dosage",
    [
        # 1 tablet in the morning + 1 at night = 2 a day, each dose 1 tablet: the structured dose alone (1
        # tablet), timing alone (morning and night; twice a day) or a patient instruction ("12 hourly",
        # "Take twice a day") says the same (refused by the change before)
        {"doseAndRate": ONE_TABLET, "text": MORNING_AND_NIGHT},
        {"timing": {"repeat": {"when": ["MORN", "NIGHT"]}}, "text": MORNING_AND_NIGHT},
        {"timing": {"repeat": BD}, "text": MORNING_AND_NIGHT},
        {"text": MORNING_AND_NIGHT, "patientInstruction": "12 hourly"},
        {"text": MORNING_AND_NIGHT, "patientInstruction": "Take twice a day"},
    ],
)
def test_the_same_dose_at_named_times_is_one_schedule(dosage: dict[str, Any]) -> None:
    result = max_daily_amount([dosage], MST_30)
    assert isinstance(result, DailyAmount) and (result.quantity, result.unit) == (Decimal(2), UNIT), result


@pytest.mark.parametrize(
    "dosage",
    [
        # 1 + 2 = 3 a day: the structured dose of 1 tablet is not every dose
        {"doseAndRate": ONE_TABLET, "text": "1 in the morning and 2 at night"},
        # four times a day against the text's 2 administrations
        {"timing": {"repeat": QDS}, "text": MORNING_AND_NIGHT},
    ],
)
def test_named_times_that_disagree_with_the_structured_fields_are_refused(dosage: dict[str, Any]) -> None:
    result = max_daily_amount([dosage], MST_30)
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent", result


@pytest.mark.parametrize(
    "instruction",
    [
        "Do not stop taking suddenly",
        "Review in 4 weeks",
        "Controlled drug",
        "Space the doses evenly",
        "Warning. May cause drowsiness. If affected do not drive or operate machinery",
    ],
)
def test_counselling_in_the_patient_instruction_is_advice(instruction: str) -> None:
    result = max_daily_amount([_dosage(ONE_TABLET, patientInstruction=instruction)], MST_30)
    assert isinstance(result, DailyAmount) and result.quantity == 2, result  # 1 tablet x 2 a day


@pytest.mark.parametrize(
    "instruction",
    [
        "Apply on the same day each week",
        "Do not expose to heat",
        "Rotate application sites",
        "Do not cut the patch",
    ],
)
def test_counselling_beside_a_weekly_patch_is_advice(instruction: str) -> None:
    weekly = {"frequency": 1, "period": 7, "periodUnit": "d"}
    dosage = _dosage(
        [{"doseQuantity": {"value": 1, "unit": "patch"}}], {"repeat": weekly}, patientInstruction=instruction
    )
    result = max_daily_amount([dosage], DoseForm("patch", Decimal(10), True))
    assert isinstance(result, DailyAmount) and result.quantity == 1, result  # 1 patch worn


def test_an_open_ended_patient_instruction_still_refuses() -> None:
    dosage = _dosage(ONE_TABLET, patientInstruction="or as directed by the pain clinic")
    result = max_daily_amount([dosage], MST_30)
    assert isinstance(result, DosageProblem) and result.code == "dosage-words-unread", result


@pytest.mark.parametrize(
    ("text", "form", "expected", "unit"),
    [
        # "15mg" had been split into 1 x 5 mg: 1 capsule x 6 = 6 capsules (30 mg); it is 15 mg x 6 = 90 mg
        (
            "Take 15mg capsule every 4 hours when required",
            DoseForm("capsule", Decimal(5), False, frozenset({Decimal(5)}), frozenset({Decimal(5)})),
            "90",
            MG,
        ),
        # "25 micrograms/hour patch" of a 25 patch: 25 microgram/hour worn (was refused, read as 2 x 5
        # microgram/hour, a strength the product is not)
        (
            "Apply 25 micrograms/hour patch every 72 hours",
            DoseForm("patch", Decimal(25), True, frozenset({Decimal(25)}), frozenset({Decimal(25)})),
            "25",
            RATE,
        ),
        # "30mg tablet" of MST 30: 30 mg x 2 = 60 mg (was refused, read as 3 x 0 mg)
        ("Take 30mg tablet twice a day", MST_30, "60", MG),
        # a count and the strength apart still restate the strength: 2 tablets x 2 = 4
        ("two 30mg tablets twice a day", MST_30, "4", UNIT),
        ("1 x 30mg tablet twice a day", MST_30, "2", UNIT),
    ],
)
def test_a_mass_is_not_split_into_a_count_and_a_strength(
    text: str, form: DoseForm, expected: str, unit: str
) -> None:
    result = read_dosage_text(text, form)
    assert isinstance(result, DailyAmount) and (result.quantity, result.unit) == (Decimal(expected), unit), (
        result
    )


# A fourth review (2026-12-06) of the change above. By hand; each case says what was read before.
@pytest.mark.parametrize(
    ("text", "form"),
    [
        # two 30 mg tablets (2 x 30 = 60 mg a dose, 120 a day) or 2 to 30 mg (30 mg a dose, 60 a day)?
        # read as the range, 60 mg a day, half the first reading
        ("2 - 30mg tablets twice a day", MST_30),
        ("2-30mg tablets twice a day", MST_30),
        # oxycodone 5: 2 x 5 x 6 = 60 mg or 5 x 6 = 30 mg (read) a day?
        (
            "Take 2 - 5mg capsules every 4 hours",
            DoseForm("capsule", Decimal(5), False, frozenset({Decimal(5)}), frozenset({Decimal(5)})),
        ),
    ],
)
def test_a_count_or_a_range_before_a_strength_is_refused(text: str, form: DoseForm) -> None:
    result = read_dosage_text(text, form)
    assert isinstance(result, DosageProblem) and result.code == "dose-ambiguous", result


@pytest.mark.parametrize("text", ["1 in the morning and 1 mane", "1 at night and 1 at bedtime"])
def test_one_time_of_day_named_twice_in_text_is_refused(text: str) -> None:
    """ "In the morning" and "mane" are one time: one tablet written twice, or two? (was 2, twice a day)."""
    result = read_dosage_text(text, MST_30)
    assert isinstance(result, DosageProblem) and result.code == "frequency-conflict", result


def test_advice_does_not_swallow_a_frequency() -> None:
    """ "1 tablet, take at the same time every day, max 2 a day": 1 x 1 = 1 a day under a maximum of 2
    (the first version of the advice took "every day" with it, and read the maximum, 2)."""
    result = read_dosage_text("1 tablet, take at the same time every day, max 2 a day", MST_30)
    assert isinstance(result, DailyAmount) and result.quantity == 1, result


# A fifth review (2026-12-06). By hand; each case says what was read before.


def test_a_dose_and_a_frequency_in_two_texts_beside_a_maximum_alone_are_refused() -> None:
    """At most 8 tablets a day, no structured dose or timing; text "1 tablet", patient instruction "Take
    twice a day": together 1 x 2 = 2 a day, not combined here (was 8, the maximum). Either alone leaves
    the maximum, 8, the most a day."""
    both = amount(
        [{"maxDosePerPeriod": AT_MOST_8_A_DAY, "text": "1 tablet", "patientInstruction": "Take twice a day"}]
    )
    assert isinstance(both, DosageProblem) and both.code == "dose-text-partial", both
    alone = amount([{"maxDosePerPeriod": AT_MOST_8_A_DAY, "text": "1 tablet"}])
    assert isinstance(alone, DailyAmount) and alone.quantity == 8, alone


def test_a_whole_text_beside_a_timing_with_only_a_maximum_must_keep_its_times_a_day() -> None:
    """A 2 mg/ml liquid four times a day, at most 30 ml a day, no structured dose; the text "5ml every 4
    hours when required" is 5 x 6 = 30 ml (was read), but the timing says 4 times: 5 x 4 = 20 ml?"""
    dosage = {
        "timing": {"repeat": QDS},
        "maxDosePerPeriod": {
            "numerator": {"value": 30, "unit": "ml"},
            "denominator": {"value": 1, "unit": "d"},
        },
        "text": "5ml every 4 hours when required",
    }
    result = max_daily_amount([dosage], DoseForm("ml", Decimal(2), False))
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent", result


def test_named_doses_only_some_of_which_may_be_when_required_beside_a_regular_dose_are_refused() -> None:
    """Structured 1 tablet twice a day; the text "1 in the morning and 1 at night when required": is
    the morning dose regular? (was read 2, all turned when required)."""
    result = amount([_dosage(ONE_TABLET, text="1 in the morning and 1 at night when required")])
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent", result


def test_a_whole_text_beside_a_maximum_alone_is_held_to_it() -> None:
    """At most 8 tablets a day, and the whole text "1-2 tablets every 4-6 hours when required" (2 x 24/4
    = 12): 8, when required. The text gives the dose and how often in one, so nothing is combined."""
    dosage = {"maxDosePerPeriod": AT_MOST_8_A_DAY, "text": "1-2 tablets every 4-6 hours when required"}
    result = amount([dosage])
    assert isinstance(result, DailyAmount) and (result.quantity, result.as_needed) == (Decimal(8), True), (
        result
    )


# A sixth review (2026-12-06). By hand; each case says what was read before.
@pytest.mark.parametrize(
    "dosage",
    [
        # 3 tablets once a day (3) beside "1 in the morning and 2 at night" (1 + 2 = 3): the same figure,
        # not the same doses (was read as 3 tablets once a day)
        _dosage(
            [{"doseQuantity": {"value": 3, "unit": "tablet"}}],
            {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            text="1 in the morning and 2 at night",
        ),
        # 2 tablets once a day when required beside "1 in the morning and 1 at night when required" (was
        # 2 tablets once a day, a step at double the single dose)
        _dosage(
            TWO_TABLETS,
            {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            asNeededBoolean=True,
            text="1 in the morning and 1 at night when required",
        ),
    ],
)
def test_one_structured_dose_beside_a_text_of_several_is_refused(dosage: dict[str, Any]) -> None:
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == "dose-inconsistent", result


def test_phases_keep_their_loading_dose_note() -> None:
    """ "2 now then 1 twice a day" (2 a day, loading 2 noted), then "2 at night" (2): one figure, no one
    schedule, and the loading dose still noted."""
    result = amount(
        [{"sequence": 1, "text": "2 now then 1 twice a day"}, {"sequence": 2, "text": "2 at night"}]
    )
    assert isinstance(result, DailyAmount) and (result.quantity, result.loading) == (Decimal(2), "2 now"), (
        result
    )


_EVERY_4_HOURS = {"repeat": {"frequency": 1, "period": 4, "periodUnit": "h"}}
_PER_24_HOURS = {"value": 24, "unit": "h", "system": "http://unitsofmeasure.org", "code": "h"}


@pytest.mark.parametrize(
    "dosages",
    [
        # 1 twice a day and 1-2 every 4 hours when required, max 8 in 24 hours: 2 + 8 = 10 was read, but a
        # GP's "max 8 in 24 hours" is usually the whole day's (8), and the dosage does not say which
        [{"text": "1 tablet twice a day"}, {"text": "1-2 every 4 hours when required, max 8 in 24 hours"}],
        # the same maximum in the second line's patientInstruction (2 + 8 = 10 was read, uncapped)
        [{"text": "1 bd"}, {"text": "1-2 qds prn", "patientInstruction": "Maximum 8 tablets in 24 hours"}],
        # structured: R4 puts maxDosePerPeriod on one Dosage, but a GP system writes the day's maximum there
        [
            {
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
            },
            {
                "doseAndRate": [{"doseRange": {"low": {"value": 1}, "high": {"value": 2, "unit": "tablet"}}}],
                "timing": _EVERY_4_HOURS,
                "asNeededBoolean": True,
                "maxDosePerPeriod": {
                    "numerator": {"value": 8, "unit": "tablet"},
                    "denominator": _PER_24_HOURS,
                },
            },
        ],
        # a day's total beside another line ("up to 8 tablets a day" as well as 1 bd: 10, or 8 in all?)
        [{"text": "1 bd"}, {"text": "up to 8 tablets a day"}],
    ],
)
def test_a_maximum_on_one_of_the_dosages_taken_together_is_not_added_up(
    dosages: list[dict[str, Any]],
) -> None:
    result = amount(dosages)
    assert isinstance(result, DosageProblem) and result.code == "maximum-scope-unclear", result


def test_a_maximum_holds_its_own_dosage_in_phases_and_lines_without_one_still_add_up() -> None:
    """Phases (sequence 1, then 2) each with a maximum are not taken together: 1-2 qds max 6 is 6 a day in
    each, the same figure; lines with no maximum add up: 1 in the morning (1) + 2 at night (2) = 3."""
    phases = amount(
        [
            {"sequence": 1, "text": "1-2 qds prn, max 6 in 24 hours"},
            {"sequence": 2, "text": "1-2 qds prn, max 6 in 24 hours"},
        ]
    )
    assert isinstance(phases, DailyAmount) and phases.quantity == 6, phases
    lines = amount([{"text": "1 in the morning"}, {"text": "2 at night"}])
    assert isinstance(lines, DailyAmount) and lines.quantity == 3, lines


def test_the_same_dosage_line_written_twice_is_not_added_up() -> None:
    """Two lines "1 tablet twice a day" taken together: 4 a day was read, but a line written twice (a GP
    system's duplicate) is 2; which it is, the prescription does not say."""
    result = amount([{"text": "1 tablet twice a day"}, {"text": "1 tablet twice a day"}])
    assert isinstance(result, DosageProblem) and result.code == "dose-repeated", result


@pytest.mark.parametrize(
    ("dosage", "expected"),
    [
        # units as GP systems print them: "tablet(s)" and "patch(es)" were words not read (refused)
        ({"text": "Take 2 tablet(s) four times a day"}, "8"),  # 2 x 4
        ({"text": "1 capsule(s) twice a day"}, "2"),  # 1 x 2
        (
            {
                "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet(s)"}}],
                "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
            },
            "6",  # 2 x 3
        ),
    ],
)
def test_a_unit_printed_with_its_plural_in_brackets_is_read(dosage: dict[str, Any], expected: str) -> None:
    result = amount([dosage])
    assert isinstance(result, DailyAmount) and (result.quantity, result.unit) == (Decimal(expected), UNIT), (
        result
    )


def test_a_patch_printed_with_its_plural_in_brackets_is_read() -> None:
    """ "Apply 1 patch(es) every 72 hours": one patch worn at once (the change interval does not count)."""
    result = amount([{"text": "Apply 1 patch(es) every 72 hours"}], "patch", is_patch=True)
    assert isinstance(result, DailyAmount) and result.quantity == 1, result


@pytest.mark.parametrize(
    "dosage",
    [
        {"text": "1 bd", "maxDosePerPeriod": [{"numerator": {"value": 8}}]},  # R5's list of maxima
        {"text": "1 bd", "doseAndRate": {"doseQuantity": {"value": 1}}},  # an entry, not a list of them
        {"text": "1 bd", "timing": []},
        {"doseAndRate": [{"doseQuantity": {"value": "abc", "unit": "tablet"}}]},  # a value that is no number
        {"doseAndRate": [{"doseQuantity": {"value": True, "unit": "tablet"}}]},
        {"text": 5},
        # a pharmacist's fuzzing: each raised (TypeError, InvalidOperation, AttributeError)
        {"text": "1 bd", "timing": {"repeat": {"period": 4, "periodMax": "6", "periodUnit": "h"}}},
        {"timing": {"repeat": {"frequency": [4], "period": 1, "periodUnit": "d"}}, "text": "1 qds"},
        {"text": "1 bd", "timing": {"repeat": [{"frequency": 2}]}},
        {"text": "1 bd", "timing": {"code": {"coding": {"code": "BID"}}}},
        {"doseAndRate": [{"doseRange": [1, 2]}], "text": "1-2 bd"},
        {"text": "1 bd", "sequence": [1]},
    ],
)
def test_a_dosage_not_shaped_as_r4_is_refused_not_an_exception(dosage: dict[str, Any]) -> None:
    """A GP record passed on unvalidated may carry another version's shapes: each raised (AttributeError,
    InvalidOperation), or a number given as the text was read as words, where a refusal is what the reader
    promises."""
    result = amount([dosage])
    assert isinstance(result, DosageProblem) and result.code == "dosage-malformed", result


def test_a_dosage_text_longer_than_any_gp_systems_is_not_read() -> None:
    """1,000 characters at most (a GP system's longest dose runs to a few hundred): 20,000 digits took 33 s
    of a request's CPU before (an attacker's review)."""
    result = amount([{"text": "1" * 20000}])
    assert isinstance(result, DosageProblem) and result.code == "dosage-text-too-long", result
    additional = amount([{"text": "1 bd", "additionalInstruction": [{"text": "max 8 in 24 hours " * 100}]}])
    assert isinstance(additional, DosageProblem) and additional.code == "dosage-text-too-long", additional
