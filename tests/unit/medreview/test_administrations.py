"""Administrations a day from the one dose reader's reading (``shared.medicines.administrations``).

Expected figures by hand from the BNF's abbreviations and the R4 timing fields: bd = 2, tds = 3, qds = 4,
"every 12 hours" = 24 / 12 = 2, "every 4 to 6 hours" = 24 / 4 = 6 (its most often), ``frequency`` 1 per
``period`` 12 h = 2 a day, timing code BID = 2. A taper step is written at this frequency, so what is not one
regular daily schedule is refused with the reason, never guessed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shared.medicines.administrations import Administrations, administrations
from shared.medicines.amounts import DailyAmount, DosageProblem, DoseForm
from shared.medicines.dosage import max_daily_amount

TABLET = DoseForm("tablet", Decimal(30), is_patch=False)
LIQUID = DoseForm("ml", Decimal(2), is_patch=False)
PATCH = DoseForm("patch", Decimal(10), is_patch=True)


def read(dosages: list[dict[str, Any]], form: DoseForm = TABLET) -> Administrations | DosageProblem:
    amount = max_daily_amount(dosages, form)
    assert isinstance(amount, DailyAmount), amount
    return administrations(amount)


@pytest.mark.parametrize(
    ("dosage", "form", "per_day", "as_needed", "dose"),
    [
        ({"text": "one twice a day"}, TABLET, 2, False, "1"),
        ({"text": "One tablet twice daily"}, TABLET, 2, False, "1"),
        ({"text": "1 bd"}, TABLET, 2, False, "1"),
        ({"text": "1bd"}, TABLET, 2, False, "1"),
        ({"text": "take one every 12 hours"}, TABLET, 2, False, "1"),  # 24 / 12
        ({"text": "two tablets four times a day"}, TABLET, 4, False, "2"),
        ({"text": "one tds"}, TABLET, 3, False, "1"),
        ({"text": "one at night"}, TABLET, 1, False, "1"),
        ({"text": "30ml once a day"}, LIQUID, 1, False, "30"),
        ({"text": "5ml every 4 to 6 hours when required"}, LIQUID, 6, True, "5"),  # 24 / 4, its most
        ({"text": "2 tds prn"}, TABLET, 3, True, "2"),
        (
            {
                "timing": {"repeat": {"frequency": 1, "period": 12, "periodUnit": "h"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
            },
            TABLET,
            2,
            False,
            "1",
        ),
        (
            {
                "timing": {"code": {"coding": [{"code": "BID"}]}},
                "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet"}}],
            },
            TABLET,
            2,
            False,
            "2",
        ),
    ],
)
def test_administrations_a_day_as_the_reader_read_them(
    dosage: dict[str, Any], form: DoseForm, per_day: int, as_needed: bool, dose: str
) -> None:
    assert read([dosage], form) == Administrations(per_day, as_needed, Decimal(dose), form.per_unit)


@pytest.mark.parametrize(
    ("dosages", "form", "code"),
    [
        # one in the morning and two at night: 3 a day, but not one dose at one frequency
        ([{"text": "one in the morning and two at night"}], TABLET, "frequency-not-one-schedule"),
        # two dosage lines taken together add up: no one schedule
        ([{"text": "one twice a day"}, {"text": "one at night"}], TABLET, "frequency-not-one-schedule"),
        # a prescribed maximum alone says how much, not how often
        (
            [
                {
                    "maxDosePerPeriod": {
                        "numerator": {"value": 8, "unit": "tablet"},
                        "denominator": {"value": 1, "unit": "d"},
                    }
                }
            ],
            TABLET,
            "frequency-not-one-schedule",
        ),
        # every other day is refused before this: its reading has no one daily amount (test_gp_wording.py)
        # every hour: 24 a day, more than 6
        ([{"text": "one every hour"}], TABLET, "frequency-not-daily"),
        # a patch is worn, not taken a number of times a day
        ([{"text": "apply one patch every 7 days"}], PATCH, "frequency-not-one-schedule"),
    ],
)
def test_what_is_not_one_regular_daily_schedule_is_refused_with_the_reason(
    dosages: list[dict[str, Any]], form: DoseForm, code: str
) -> None:
    found = read(dosages, form)
    assert isinstance(found, DosageProblem)
    assert found.code == code
    assert found.text


def test_a_maximum_below_the_dose_times_its_frequency_is_not_a_schedule() -> None:
    """ "2 tablets every 4 hours, max 6 in 24 hours" (regular): 6 a day is the maximum, not 6 doses of 2
    (which would be 12). Read as 6 administrations of 2, a step planned from it would divide 6 tablets a
    day by 6 and write 1 tablet a dose (a second pharmacist's review, 2026-12-06): refused."""
    result = read([{"text": "2 tablets every 4 hours, max 6 in 24 hours"}])
    assert isinstance(result, DosageProblem) and result.code == "frequency-not-one-schedule", result


@pytest.mark.parametrize(
    ("text", "per_day", "dose"),
    [
        # when required, held to a maximum: the dose each time kept, as many times a day as the maximum
        # holds (6 / 2 = 3), as "2 up to 3 times a day when required" is read; never 6 doses of 1
        ("2 tablets every 4 hours when required, max 6 in 24 hours", 3, "2"),
        # the commonest "when required" label (a fourth pharmacist's review: refused, no step): 8 / 2 = 4
        ("1-2 tablets every 4-6 hours when required. Maximum 8 tablets in 24 hours", 4, "2"),
        ("1 tablet every 4-6 hours when required, max 4 a day", 4, "1"),  # 4 / 1
    ],
)
def test_a_when_required_dose_held_to_a_maximum_is_the_dose_up_to_the_times_it_allows(
    text: str, per_day: int, dose: str
) -> None:
    assert read([{"text": text}]) == Administrations(per_day, True, Decimal(dose), "tablet")


@pytest.mark.parametrize(
    "text",
    [
        "2 every 4 hours when required, max 7 in 24 hours",  # 7 / 2 = 3.5: no whole number of doses
        "1-2 every 4 hours when required, max 240mg in 24 hours",  # a maximum in mg, the dose in tablets
    ],
)
def test_a_when_required_maximum_that_is_no_whole_number_of_doses_is_no_schedule(text: str) -> None:
    result = read([{"text": text}])
    assert isinstance(result, DosageProblem) and result.code == "frequency-not-one-schedule", result


def test_a_maximum_in_another_unit_than_the_dose_is_not_a_schedule() -> None:
    """Oramorph 10 mg/5 ml (2 mg/ml), "5ml four times a day, max 20mg a day": 5 ml x 4 = 20 ml = 40 mg,
    held to 20 mg. 5 x 4 = 20 matched the 20 mg by number, and a step planned from it halved each dose."""
    result = read([{"text": "5ml four times a day, max 20mg a day"}], LIQUID)
    assert isinstance(result, DosageProblem) and result.code == "frequency-not-one-schedule", result


def test_the_same_dose_at_named_times_is_one_schedule_for_a_step() -> None:
    """ "ONE tablet at 8am and ONE tablet at 8pm": 1 tablet, twice a day (had no frequency for a step);
    "1 in the morning and 2 at night" has no one dose, and is still refused."""
    assert read([{"text": "ONE tablet at 8am and ONE tablet at 8pm"}]) == Administrations(
        2, False, Decimal(1), "tablet"
    )
    different = read([{"text": "1 in the morning and 2 at night"}])
    assert isinstance(different, DosageProblem) and different.code == "frequency-not-one-schedule", different


@pytest.mark.parametrize(
    "text",
    [
        # a frequency beside a named time: is the night dose one of the two? (was 1 x 3 a day for a step)
        "1 bd and 1 nocte",
        # a regular night dose and doses when required: not one schedule (was 1 x 5, all when required)
        "1 at night and 1 up to four times a day when required",
    ],
)
def test_only_doses_at_named_times_alone_make_one_schedule(text: str) -> None:
    result = read([{"text": text}])
    assert isinstance(result, DosageProblem) and result.code == "frequency-not-one-schedule", result


@pytest.mark.parametrize(
    "dosages",
    [
        # only one of the named doses may be when required (was 1 tablet twice a day, when required)
        [{"text": "1 in the morning and 1 at night when required"}],
        # phases of the same most a day (2) in different schedules: which applies today? (was phase 1's)
        [{"sequence": 1, "text": "1 in the morning and 1 at night"}, {"sequence": 2, "text": "2 at night"}],
        [
            {
                "sequence": 1,
                "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet"}}],
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
            },
            {
                "sequence": 2,
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
                "timing": {"repeat": {"frequency": 4, "period": 1, "periodUnit": "d"}},
            },
        ],
    ],
)
def test_no_one_schedule_is_taken_from_doses_that_differ_in_kind_or_phase(
    dosages: list[dict[str, Any]],
) -> None:
    result = read(dosages)
    assert isinstance(result, DosageProblem) and result.code == "frequency-not-one-schedule", result


def test_phases_in_the_same_schedule_are_one() -> None:
    """1 twice a day, then 1 tablet twice a day: the same schedule written twice, 1 tablet x 2."""
    dosages = [{"sequence": 1, "text": "1 twice a day"}, {"sequence": 2, "text": "1 tablet twice a day"}]
    assert read(dosages) == Administrations(2, False, Decimal(1), "tablet")


def test_phases_in_one_schedule_written_in_different_units_are_one() -> None:
    """1 tablet twice a day, then 30 mg twice a day of a 30 mg tablet: the same, 1 tablet x 2."""
    dosages = [{"sequence": 1, "text": "1 tablet twice a day"}, {"sequence": 2, "text": "30mg twice a day"}]
    assert read(dosages) == Administrations(2, False, Decimal(1), "tablet")


@pytest.mark.parametrize(
    ("text", "form", "daily", "unit"),
    [
        # co-codamol "8 tablets a day": 8 a day, not 8 at once (read as once a day, a step was 7 at once:
        # 3.5 g of paracetamol and 210 mg of codeine in one dose)
        ("8 tablets a day", TABLET, "8", "unit"),
        ("up to 8 a day", TABLET, "8", "unit"),
        ("TWO To Be Taken Each Day", TABLET, "2", "unit"),  # EMIS's wording: two a day, together or apart?
        ("2 tablets daily", TABLET, "2", "unit"),
        ("two tablets per day", TABLET, "2", "unit"),
        ("60mg a day", TABLET, "60", "mg"),  # of a 30 mg tablet: 2 tablets, 60 mg at once or 30 mg twice?
        # a liquid's ml are no units to count: any amount of one "a day" is a day's total (Oramorph 10 mg/5
        # ml "60mg daily" read once a day was a step of 54 mg at once)
        ("60mg daily", LIQUID, "60", "mg"),
        ("30ml daily", LIQUID, "30", "unit"),
    ],
)
def test_a_days_total_of_more_than_one_unit_says_no_times_a_day(
    text: str, form: DoseForm, daily: str, unit: str
) -> None:
    """The figure stands (BNF: "a day" is the day's total), but the words say no times a day to step at."""
    amount = max_daily_amount([{"text": text}], form)
    assert isinstance(amount, DailyAmount) and (amount.quantity, amount.unit) == (Decimal(daily), unit)
    assert amount.total_only and "how often not said" in amount.basis
    result = administrations(amount)
    assert isinstance(result, DosageProblem) and result.code == "frequency-not-one-schedule", result
    assert "a day's total" in result.text


@pytest.mark.parametrize(
    ("dosages", "form", "dose"),
    [
        ([{"text": "2 tablets once a day"}], TABLET, "2"),  # once a day, said
        ([{"text": "2 tablets od"}], TABLET, "2"),  # BNF: od, omni die, once daily
        ([{"text": "2 tablets in the morning"}], TABLET, "2"),
        ([{"text": "1 tablet a day"}], TABLET, "1"),  # one unit a day is one dose a day either way
        ([{"text": "30mg daily"}], TABLET, "30"),  # one 30 mg tablet
        ([{"text": "30ml once a day"}], LIQUID, "30"),  # once a day, said
        # a structured timing of once a day says how often the text's day's total is taken
        (
            [
                {
                    "text": "2 tablets a day",
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                }
            ],
            TABLET,
            "2",
        ),
    ],
)
def test_a_dose_said_to_be_once_a_day_is_one_schedule(
    dosages: list[dict[str, Any]], form: DoseForm, dose: str
) -> None:
    amount = max_daily_amount(dosages, form)
    assert isinstance(amount, DailyAmount) and not amount.total_only and "how often" not in amount.basis
    unit = "mg" if dose == "30" and form is TABLET else form.per_unit
    assert administrations(amount) == Administrations(1, False, Decimal(dose), unit)
