"""The most a FHIR R4 dosage lets a patient take in a day, from structured fields or free text.

Structured: ``doseAndRate`` (``doseQuantity``, or ``doseRange`` whose high end counts), ``timing.repeat``
(``frequency``/``frequencyMax`` per ``period``/``periodUnit``, ``timeOfDay``, ``when``), ``timing.code``,
``asNeeded[x]`` and ``maxDosePerPeriod``. Text: :mod:`shared.medicines.dose_text`.

Ranges and "up to" count their maximum; a prescribed maximum (``maxDosePerPeriod``, "max 8 in 24 hours")
caps it. A dose in mg, g, micrograms or microgram/hour is a quantity of drug, never a count of units.
Patches are counted as patches (or microgram/hour) worn at once, whatever the change interval. Nothing is
guessed: what cannot be read comes back as a :class:`DosageProblem`. Structured fields are refused
(``STRUCTURED_REFUSALS``, and then text does not stand in for them) when they say what this reader does
not model or do not agree: a period without its unit, a frequency without a period, some days of the week
only, meal codes without a frequency, a timing code that disagrees with its repeat, more times of day than
the frequency over a period longer than a day, a dose with a comparator, a figure that is not above
zero or past any prescription (``_MOST``), an inverted range, an open dose range, a unit that disagrees
with its UCUM code, ``doseAndRate`` entries that say different amounts, a fixed dose above its maximum
per dose, a maximum that cannot be read, a time of day named twice, ``timeOfDay`` beside ``when``
(tim-10), timing codes that disagree, and a patch's maximum per period that is not the patches worn.
Text (``text``, then ``patientInstruction``) is checked against the structured fields: text that says
only part of a dosage must agree in its dose and times a day, and its maximum and "when required" hold;
whole text must give the same dose, times a day and figure once held to its maximum; a text alone must
agree with a structured dose or timing given without the other. ``count`` bounds the daily figure (the
whole course is that many), ``maxDosePerAdministration`` caps the dose, and dosages over different
``bounds`` are phases, as different ``sequence`` numbers are. Periods in hours, minutes and seconds are
counted exactly (every 8 hours is 3 a day). A timing whose period is longer than a day (once in 2 days,
twice a week, ``QOD``, ``WK``) is refused for a tablet, capsule or liquid (``dose-every-few-days``): a dose
taken every few days has no one daily amount (the day it is taken, or averaged?), as in text; a patch
counts what is worn, whatever its change interval. A maximum per week or month (``maxDosePerPeriod``) is
averaged to a day. A dose unit given only as a SNOMED CT code is read when the code is one of
``_SNOMED_UNITS`` (a unit of presentation: tablet, capsule, patch; or millilitre); a unit text beside a
code of that table (or of a mass: milligram, microgram) must agree with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from shared.medicines.amounts import (
    MG,
    RATE,
    UNIT,
    DailyAmount,
    DosageProblem,
    DoseForm,
    bare_count_ambiguous,
    dose_kind,
    in_ingredient,
    n,
    schedule,
)
from shared.medicines.dose_text import (
    HOW_OFTEN_UNSAID,
    WrittenPart,
    above_a_time,
    label,
    read_dosage_text,
    read_written_part,
    with_written_caps,
    writes_a_maximum,
)
from shared.medicines.dose_words import normalise, tokens

__all__ = [
    "MG",
    "RATE",
    "UNIT",
    "DailyAmount",
    "DosageProblem",
    "DoseForm",
    "max_daily_amount",
    "shape_problem",
]

# HL7 v3 GTSAbbreviation timing codes (R4 timing-abbreviation value set): administrations a day.
_TIMING_CODES = {"QD": 1, "BID": 2, "TID": 3, "QID": 4, "AM": 1, "PM": 1, "Q4H": 6, "Q6H": 4, "Q8H": 3}
_TIMING_CODES_WEEKLY = {"QOD": Decimal("0.5"), "WK": Decimal(1) / 7}


_NUMBER_TYPES = (int, float, Decimal)
_REPEAT_NUMBERS = ("frequency", "frequencyMax", "period", "periodMax", "count", "countMax")
_REPEAT_LISTS = ("when", "timeOfDay", "dayOfWeek")


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool)


def _quantity_malformed(quantity: Any) -> bool:
    """A (Simple)Quantity that is not an object, or whose value is not a JSON number."""
    if quantity is None:
        return False
    return not isinstance(quantity, Mapping) or ("value" in quantity and not _is_number(quantity["value"]))


def _ratio_or_range_malformed(value: Any, ends: tuple[str, str]) -> bool:
    if value is None:
        return False
    return not isinstance(value, Mapping) or any(_quantity_malformed(value.get(end)) for end in ends)


def _timing_malformed(timing: Any) -> bool:
    if timing is None:
        return False
    if not isinstance(timing, Mapping):
        return True
    repeat, code = timing.get("repeat", {}), timing.get("code", {})
    if not isinstance(repeat, Mapping) or not isinstance(code, Mapping):
        return True
    if any(k in repeat and not _is_number(repeat[k]) for k in _REPEAT_NUMBERS):
        return True
    if any(k in repeat and not isinstance(repeat[k], str) for k in ("periodUnit", "durationUnit")):
        return True
    if _codings_malformed(code):
        return True
    lists = [repeat.get(k, []) for k in _REPEAT_LISTS]
    return any(not isinstance(v, list) or not all(isinstance(x, str) for x in v) for v in lists)


def _codings_malformed(concept: Any) -> bool:
    """A CodeableConcept that is not an object, or whose codings are not objects of string fields."""
    if not isinstance(concept, Mapping):
        return True
    codings = concept.get("coding", [])
    if not isinstance(codings, list) or not all(isinstance(c, Mapping) for c in codings):
        return True
    fields = ("system", "code", "display")
    return any(k in c and not isinstance(c[k], str) for c in codings for k in fields) or not isinstance(
        concept.get("text", ""), str
    )


def _one_malformed(dosage: Any) -> bool:
    if not isinstance(dosage, Mapping):
        return True
    entries = dosage.get("doseAndRate", [])
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        return True
    if any(_quantity_malformed(e.get("doseQuantity")) for e in entries):
        return True
    if any(_ratio_or_range_malformed(e.get("doseRange"), ("low", "high")) for e in entries):
        return True
    if _ratio_or_range_malformed(dosage.get("maxDosePerPeriod"), ("numerator", "denominator")):
        return True
    if any(_quantity_malformed(dosage.get(k)) for k in ("maxDosePerAdministration", "maxDosePerLifetime")):
        return True
    additional = dosage.get("additionalInstruction", [])
    if not isinstance(additional, list) or any(_codings_malformed(a) for a in additional):
        return True
    if any(_codings_malformed(dosage[k]) for k in ("asNeededCodeableConcept",) if k in dosage):
        return True
    if any(not isinstance(dosage.get(k, ""), str) for k in ("text", "patientInstruction")):
        return True
    if "sequence" in dosage and not isinstance(dosage["sequence"], int | None):
        return True
    return _timing_malformed(dosage.get("timing"))


_LONGEST_TEXT = 1000
"""No dosage text (or patient or additional instruction) longer than this is read: a GP system's longest
run to a few hundred characters, and reading 40,000 took a third of a second."""


def shape_problem(dosages: Sequence[Mapping[str, Any]]) -> DosageProblem | None:
    """Dosages not shaped as R4 ``Dosage`` (a maximum given as a list, R5's shape; a number given as a
    string; a timing's repeat as a list): a refusal, where reading them would raise or misread. Validated
    resources never are; GP records passed on may be. So is a text past :data:`_LONGEST_TEXT`."""
    if any(_one_malformed(d) for d in dosages):
        return DosageProblem("dosage-malformed", "A dosage is not shaped as an R4 Dosage: not read")
    texts = [str(d.get(k) or "") for d in dosages for k in ("text", "patientInstruction")]
    texts += [t for d in dosages for t in _additional(d)]
    if any(len(t) > _LONGEST_TEXT for t in texts):
        sentence = f"A dosage's text is longer than {_LONGEST_TEXT} characters: not read"
        return DosageProblem("dosage-text-too-long", sentence)
    return None


def patch_change_hours(dosages: Sequence[Mapping[str, Any]]) -> frozenset[Decimal]:
    """Every interval, in hours, the dosages say a patch is changed at: a structured ``period`` (once in
    it), or text ("every 48 hours", "every 3 days", "weekly", "twice weekly": 84); none when none is said,
    or the dosages are not shaped as R4."""
    if shape_problem(dosages):
        return frozenset()
    found: set[Decimal] = set()
    for dosage in dosages:
        repeat = (dosage.get("timing") or {}).get("repeat") or {}
        unit = repeat.get("periodUnit")
        if (
            repeat.get("period") is not None
            and unit in _IN_A_DAY.keys() | _DAYS_IN
            and repeat.get("frequency", 1) == 1
        ):
            found.add(_number(repeat["period"]) * _HOURS_IN[str(unit)])
        for key in ("text", "patientInstruction"):
            words = tokens(normalise(str(dosage.get(key) or "")))
            found |= {t.low for t in words if t.kind == "interval" and t.low is not None and t.low == t.high}
    return frozenset(found)


def max_daily_amount(dosages: Sequence[Mapping[str, Any]], form: DoseForm) -> DailyAmount | DosageProblem:
    """The maximum daily amount over a list of R4 Dosage dicts, for a product of ``form``.

    Dosages with the same ``sequence`` run together and add up; different sequences follow one another: when
    their daily amounts differ the dose changes over time and is refused (``dose-changes-over-time``), as in
    text ("1 bd for 7 days then 1 od").
    """
    if not dosages:
        return DosageProblem("dosage-missing", "No dosage instruction was given")
    if malformed := shape_problem(dosages):
        return malformed
    phases: dict[object, list[DailyAmount]] = {}
    bounds: dict[object, set[str]] = {}
    limited: dict[object, list[str]] = {}
    for dosage in dosages:
        amount = _one_dosage(dosage, form)
        if isinstance(amount, DosageProblem):
            return amount
        phases.setdefault(dosage.get("sequence"), []).append(amount)
        bounds.setdefault(dosage.get("sequence"), set()).add(_bounds(dosage))
        if amount.total_only or _has_maximum(dosage, form):
            limited.setdefault(dosage.get("sequence"), []).append(amount.basis)
    written = [
        json.dumps({k: v for k, v in d.items() if k != "id"}, sort_keys=True, default=str) for d in dosages
    ]
    if len(set(written)) < len(written):
        # two dosage lines the same ("1 twice a day" and "1 twice a day"): written twice, or taken twice?
        sentence = "The same dosage is written twice among those taken together: once over, or twice?"
        return DosageProblem("dose-repeated", sentence)
    if together := next((b for s, b in limited.items() if len(phases[s]) > 1), None):
        # 1 twice a day, and 1-2 every 4 hours when required "max 8 in 24 hours": 8 of the when required
        # doses (10 a day), or 8 in all? A GP's maximum is usually the day's whole; the dosage does not say
        sentence = (
            f"A maximum or a day's total on one of the dosages taken together ({'; '.join(together)}): "
            "whether it holds that dosage alone or all of them is not said, so they are not added up"
        )
        return DosageProblem("maximum-scope-unclear", sentence)
    if any(len(b) > 1 for b in bounds.values()):
        # taken "together" yet over different spans (2 bd 1-14 Jan, 1 bd 15-28 Jan, no sequence): phases
        sentence = "The dosages run over different date ranges: which applies today is not read"
        return DosageProblem("dose-changes-over-time", sentence)
    totals: list[DailyAmount] = []
    for amounts in phases.values():
        if len(amounts) == 1:
            totals.append(amounts[0])
            continue
        quantities = [(a.quantity, a.unit) for a in amounts]
        if len({a.unit for a in amounts}) > 1:
            converted = [in_ingredient(q, u, form) for q, u in quantities]
            if any(c is None for c in converted):
                return DosageProblem(
                    "dose-unit-mixed", "Dosages taken together are written in different units"
                )
            quantities = [c for c in converted if c is not None]
        totals.append(
            DailyAmount(
                sum((q for q, _ in quantities), Decimal(0)),
                quantities[0][1],
                any(a.as_needed for a in amounts),
                " + ".join(a.basis for a in amounts),
                words=tuple(w for a in amounts for w in a.words),
            )
        )
    if len({t.unit for t in totals}) > 1:
        ingredient = [in_ingredient(t.quantity, t.unit, form) for t in totals]
        if any(i is None for i in ingredient):
            return DosageProblem("dose-unit-mixed", "Dosage phases are written in different units")
        daily = {i[0] for i in ingredient if i is not None}
    else:
        daily = {t.quantity for t in totals}
    if len(daily) > 1:
        # phases in turn with different daily amounts: which applies today depends on when it started
        phases_read = "; then ".join(t.basis for t in totals)
        sentence = (
            f"The dosage's phases ({phases_read}) change the dose over time: which applies today depends on "
            "when it started, so it is not read"
        )
        return DosageProblem("dose-changes-over-time", sentence, tuple(t.basis for t in totals))
    first = totals[0]
    if any(not _same_schedule(t, first, form) for t in totals[1:]):
        # the same most a day in phases written differently (1 bd, then 2 at night): the figure stands,
        # but which phase's dose and times a day apply today is not known, so there is no one schedule
        basis = "; then ".join(t.basis for t in totals)
        words = tuple(w for t in totals for w in t.words)
        loading = "; ".join(t.loading for t in totals if t.loading)
        as_needed = any(t.as_needed for t in totals)
        return DailyAmount(first.quantity, first.unit, as_needed, basis, words=words, loading=loading)
    return first


def _has_maximum(dosage: Mapping[str, Any], form: DoseForm) -> bool:
    """Whether a dosage gives a maximum a day: ``maxDosePerPeriod``, or one written in its text or
    ``patientInstruction``. A patch's maximum counts patches applied, never held against those worn."""
    if form.is_patch:
        return False
    numerator = (dosage.get("maxDosePerPeriod") or {}).get("numerator") or {}
    texts = (str(dosage.get(k) or "") for k in ("text", "patientInstruction"))
    return numerator.get("value") is not None or any(writes_a_maximum(t, form) for t in texts if t)


def _same_schedule(one: DailyAmount, other: DailyAmount, form: DoseForm) -> bool:
    """Whether two readings say the same dose, times a day and "when required" (1 tablet twice a day and
    30 mg twice a day of a 30 mg tablet are the same)."""
    dose, other_dose = _reading_dose(one, form), _reading_dose(other, form)
    if one.as_needed != other.as_needed or schedule(one)[1] != schedule(other)[1]:
        return False
    if dose is None or other_dose is None:
        return dose is None and other_dose is None and schedule(one)[1] is None
    return _compare(dose, other_dose, form) == 0


def _bounds(dosage: Mapping[str, Any]) -> str:
    """The span a dosage runs over (``timing.repeat.bounds[x]``), as a comparable string."""
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    return json.dumps(
        {k: v for k, v in repeat.items() if k.startswith("bounds")}, sort_keys=True, default=str
    )


_TEXT_SAYS_PART = frozenset({"dose-quantity-missing", "frequency-missing"})
"""Text problems that mean the text says only part of the dosage ("twice a day", "two tablets", "max 8
in 24 hours" beside structured fields): what it does say is checked against the reading beside it
(:func:`_with_part`). Any other (words not read, a contradiction) makes the dosage not computable even
with a structured dose."""


def _one_dosage(dosage: Mapping[str, Any], form: DoseForm) -> DailyAmount | DosageProblem:
    """One Dosage: its structured fields, its ``text`` and its ``patientInstruction`` (GP Connect puts
    further instructions there: "Maximum 8 tablets in 24 hours"), each checked against the others."""
    structured = _structured(dosage, form)
    if isinstance(structured, DosageProblem) and structured.code in STRUCTURED_REFUSALS:
        return structured
    texts = [t for t in (str(dosage.get(k) or "").strip() for k in ("text", "patientInstruction")) if t]
    # BNF label 29 as an additional instruction ("Do not take more than 2 at any one time. Do not take more
    # than 8 in 24 hours"): its maxima hold the figure as the text's would ("1-2 every 4 hours" read 12)
    texts += _additional_maxima(dosage, form)
    texts = list(dict.fromkeys(texts))
    if isinstance(structured, DailyAmount):
        reading: DailyAmount | DosageProblem = structured
    elif texts:
        reading = _text_alone(read_dosage_text(texts.pop(0), form), dosage, form)
    else:
        return structured or DosageProblem(
            "dosage-missing", "The dosage has neither a structured dose nor text"
        )
    # a text of several doses ("1 in the morning and 2 at night") has no one dose or times a day to check
    several = (
        not isinstance(structured, DailyAmount)
        and isinstance(reading, DailyAmount)
        and schedule(reading)[0] is None
    )
    maximum_alone = isinstance(reading, DailyAmount) and reading.dose is None and schedule(reading)[1] is None
    said: set[str] = set()
    for text in texts:
        if isinstance(reading, DosageProblem):
            return reading
        reading = _beside(reading, dosage, text, form, several)
        written = read_dosage_text(text, form) if maximum_alone and not several else None
        if isinstance(written, DosageProblem) and written.code in _TEXT_SAYS_PART:  # a text of one part
            part = read_written_part(text, form)
            if isinstance(part, WrittenPart):
                said |= {"dose"} if part.dose is not None else set()
                said |= {"times"} if part.per_day is not None else set()
    if said == {"dose", "times"} and isinstance(reading, DailyAmount):
        # a maximum alone, its dose in one text and how often in another ("1 tablet"; "Take twice a
        # day"): together they say 1 x 2, which is not combined here; the maximum (8) would overstate it
        sentence = (
            f"The texts give the dose and how often beside a maximum alone ({reading.basis}): not combined"
        )
        return DosageProblem("dose-text-partial", sentence)
    if isinstance(reading, DailyAmount) and not reading.as_needed and _as_needed(dosage):
        return replace(reading, as_needed=True)
    return reading


def _additional(dosage: Mapping[str, Any]) -> list[str]:
    """The words of each ``additionalInstruction`` (its text, else its codings' displays)."""
    found = []
    for concept in dosage.get("additionalInstruction") or ():
        if not isinstance(concept, Mapping):
            continue
        displays = [
            str(c.get("display") or "") for c in concept.get("coding") or () if isinstance(c, Mapping)
        ]
        found.append(str(concept.get("text") or " ".join(d for d in displays if d)).strip())
    return [t for t in found if t]


def _additional_maxima(dosage: Mapping[str, Any], form: DoseForm) -> list[str]:
    """The sentences of each ``additionalInstruction`` that write a maximum (a day's or a time's), the
    others being advice that is not read ("Leave at least 4 hours between doses", "see your doctor")."""
    found = []
    for text in _additional(dosage):
        sentences = [
            t for t in re.split(r"(?<=[.;!])\s+", text) if writes_a_maximum(t, form, ("cap", "dose-cap"))
        ]
        if sentences:
            found.append(" ".join(sentences))
    return found


def _as_needed(dosage: Mapping[str, Any]) -> bool:
    return bool(dosage.get("asNeededBoolean") or dosage.get("asNeededCodeableConcept"))


def _text_alone(
    written: DailyAmount | DosageProblem, dosage: Mapping[str, Any], form: DoseForm
) -> DailyAmount | DosageProblem:
    """A text read where the structured fields give no figure, checked against what they do give: a dose
    with no timing must be the text's dose (1 tablet beside "2 tablets twice a day": it read 4), a timing
    with no dose the text's times a day (four times a day beside "1 tablet twice a day": it read 2). A
    text with no one dose or times a day (several doses, a maximum) beside them is refused."""
    if isinstance(written, DosageProblem):
        return written
    dose = _dose(dosage, form)  # a dose whose unit is not read lets the text stand in, as it always has
    timed = None if form.is_patch else _per_day(dosage.get("timing") or {})
    if isinstance(timed, DosageProblem):
        return timed
    own = _reading_dose(written, form)
    if isinstance(dose, tuple) and (own is None or _compare(own, dose, form) != 0):
        sentence = f"The structured dose and the text ({written.basis}) say different doses"
        return DosageProblem("dose-inconsistent", sentence)
    if timed is not None and schedule(written)[1] != timed:
        sentence = f"The structured timing and the text ({written.basis}) say different times a day"
        return DosageProblem("dose-inconsistent", sentence)
    if timed is not None and written.total_only:  # "2 tablets a day" beside a timing of once a day
        return replace(
            written, basis=written.basis.replace(HOW_OFTEN_UNSAID, " x 1 a day", 1), total_only=False
        )
    return written


def _beside(
    reading: DailyAmount, dosage: Mapping[str, Any], text: str, form: DoseForm, several: bool
) -> DailyAmount | DosageProblem:
    """``reading`` (from the structured fields, or the dosage's first text; ``several``: a text of
    several doses) checked against another ``text``."""
    written = read_dosage_text(text, form)
    if isinstance(written, DosageProblem) and written.code not in _TEXT_SAYS_PART:
        # the text says something not read with certainty ("... or as the pain clinic advises"): the
        # reading may not be all of the prescription, so it is not taken alone
        sentence = f"{written.text}: the dose read ({reading.basis}) may not be all it says"
        return DosageProblem(written.code, sentence, written.words)
    single = isinstance(written, DailyAmount) and written.dose is not None
    if isinstance(written, DailyAmount):
        timed = (
            None
            if form.is_patch or schedule(reading)[1] is not None
            else _per_day(dosage.get("timing") or {})
        )
        if isinstance(timed, Decimal) and schedule(written)[1] not in (None, timed):
            # a maximum alone beside a structured timing: the text's times a day must be the timing's
            sentence = f"The structured timing and the text '{text}' say different times a day"
            return DosageProblem("dose-inconsistent", sentence)
        if written.several and schedule(written)[0] is None and _reading_dose(reading, form) is not None:
            # one dose beside a text of several ("3 tablets once a day" beside "1 in the morning and 2 at
            # night", or named doses when required): the same figure, maybe, but not the same doses
            sentence = f"The text '{text}' gives several doses beside one ({reading.basis})"
            return DosageProblem("dose-inconsistent", sentence)
        if (
            written.as_needed
            and not reading.as_needed
            and written.dose is None
            and schedule(written)[0] is None
        ):
            # "1 in the morning and 1 at night when required": which of the doses is when required?
            sentence = f"The text '{text}' makes some of its doses when required, beside a regular dose"
            return DosageProblem("dose-inconsistent", sentence)
    if isinstance(written, DailyAmount) and not (several and single) and not _differ(reading, written, form):
        return reading if reading.as_needed or not written.as_needed else replace(reading, as_needed=True)
    part = read_written_part(text, form)
    if isinstance(part, DosageProblem):
        if isinstance(written, DosageProblem):
            sentence = f"{part.text}: the dose read ({reading.basis}) may not be all it says"
            return DosageProblem(part.code, sentence, part.words)
    else:
        held = _with_part(reading, dosage, part, text, form, several)
        if isinstance(held, DosageProblem) or isinstance(written, DosageProblem):
            return held
        # a whole text with a maximum the reading lacks ("1-2 every 4-6 hours when required, max 8 in 24
        # hours" beside the same without it): the same once held to it. A whole text without the
        # reading's own maximum, in the same dose and times a day: the reading's maximum holds.
        lower = _compare((held.quantity, held.unit), (written.quantity, written.unit), form) == -1
        if not _differ(held, written, form) or (not part.caps and lower):
            return held
    sentence = f"The dose read ({reading.basis}) and the text '{text}' say different amounts"
    return DosageProblem("dose-inconsistent", sentence)


def _differ(structured: DailyAmount, written: DailyAmount, form: DoseForm) -> bool:
    """Whether a dosage's structured fields and its text, both read, give different daily amounts, or
    the same daily amount in different doses or times a day (2 tablets twice a day beside "one tablet
    four times a day": 4 a day either way, but which is the patient taking?)."""
    if not _same(structured.quantity, structured.unit, written.quantity, written.unit, form):
        return True
    one_per_day, other_per_day = schedule(structured)[1], schedule(written)[1]
    if one_per_day is not None and other_per_day is not None and one_per_day != other_per_day:
        return True
    one, other = _reading_dose(structured, form), _reading_dose(written, form)
    return one is not None and other is not None and not _same(*one, *other, form)


def _reading_dose(reading: DailyAmount, form: DoseForm) -> tuple[Decimal, str] | None:
    """A reading's dose as (amount, kind), its own or its several doses' when all the same
    (:func:`schedule`), in the kind its label names (:func:`label`)."""
    dose = schedule(reading)[0]
    if dose is None or not reading.dose_unit:
        return None
    return dose, UNIT if reading.dose_unit == form.per_unit else reading.dose_unit


def _same(quantity: Decimal, unit: str, other: Decimal, other_unit: str, form: DoseForm) -> bool:
    """Whether two amounts are the same, converted to the ingredient where their units differ (amounts
    that cannot be converted are not said to differ: the caller refuses them on other grounds)."""
    if unit == other_unit:
        return quantity == other
    one, two = in_ingredient(quantity, unit, form), in_ingredient(other, other_unit, form)
    return one is None or two is None or one == two


def _with_part(
    reading: DailyAmount,
    dosage: Mapping[str, Any],
    part: WrittenPart,
    text: str,
    form: DoseForm,
    several: bool,
) -> DailyAmount | DosageProblem:
    """``reading`` checked against a text that says only part of a dosage: the text's dose must be the
    reading's ("two tablets" beside 1 tablet twice a day is refused, it read 2 a day), its times a day
    the reading's ("at night" beside twice a day), its caps hold the figure ("max 6 in 24 hours" beside
    2 tablets four times a day: 6, it read 8) and "when required" is kept. A dose or a frequency that
    would complete a reading made of a maximum alone is refused, not combined, as is one beside a text
    of several doses (which dose would it be?)."""
    if several and (part.dose is not None or part.per_day is not None):
        sentence = f"The text '{text}' gives one dose or times a day beside several ({reading.basis})"
        return DosageProblem("dose-inconsistent", sentence)
    dose = _reading_dose(reading, form)
    timed = None if form.is_patch else _per_day(dosage.get("timing") or {})
    own = schedule(reading)[1]
    per_day = own if own is not None else timed
    if isinstance(per_day, DosageProblem):
        return per_day
    contradicts = f"The dose read ({reading.basis}) and the text '{text}' say different"
    if part.dose is not None and dose is not None and _compare(part.dose, dose, form) != 0:
        return DosageProblem("dose-inconsistent", f"{contradicts} doses")
    partial = f"The text '{text}' says what the dose read ({reading.basis}) leaves out: not combined"
    if part.dose is not None and dose is None and per_day is not None and not form.is_patch:
        return DosageProblem("dose-text-partial", partial)  # a timing and a maximum, the dose in the text
    if part.per_day is not None and not form.is_patch:
        if per_day is None and dose is not None:
            return DosageProblem("dose-text-partial", partial)  # a dose and a maximum, how often in the text
        if per_day is not None and per_day != part.per_day:
            return DosageProblem("dose-inconsistent", f"{contradicts} times a day")
    if part.a_time:  # "do not take more than 2 at any one time" beside a dose: the dose may not be above it
        kind = UNIT if reading.dose_unit == form.per_unit else reading.dose_unit
        for each in [dose] if dose is not None else [(d, kind) for d, _ in reading.doses]:
            above = above_a_time(*each, part.a_time, form, text)
            if above is not None:
                return above
    amount = with_written_caps(reading, dose, part.caps, form, text)
    if isinstance(amount, DosageProblem) or not part.as_needed or amount.as_needed:
        return amount
    return replace(amount, as_needed=True)


_UCUM = "http://unitsofmeasure.org"
_SNOMED = "http://snomed.info/sct"
_SNOMED_UNITS = {
    "428673006": "tablet",
    "732936001": "tablet",
    "428641000": "capsule",
    "732937005": "capsule",
    "419702001": "patch",
    "733005001": "patch",
    "258773002": "ml",
}
"""SNOMED CT dose units read in place of a missing unit text. Sources: the dm+d units of measure (428673006
tablet, as GP Connect sends it in tests/unit/gpconnect/fixtures/gpc-structured-opioid-record.json;
428641000 capsule; 419702001 patch, the unit of dose of dm+d's transdermal patches; 258773002 millilitre)
and SNOMED CT's "unit of presentation" concepts (732935002), as HL7's value set "SNOMED CT Unit of
Presentation Codes" (hl7.org/fhir/ValueSet/medicationknowledge-package-type) lists them: 732936001 Tablet,
732937005 Capsule, 733005001 Patch."""
_SNOMED_MASSES = {"258684004": "mg", "258685003": "microgram"}
"""SNOMED CT's milligram (258684004, as tests/unit/medreview/test_dosage.py names it) and microgram
(258685003; dm+d units of measure): checked against a unit text beside them, never read in place of a
missing one. Whether a compound's dose in mg is its opioid's is checked by ``shared.medicines.ome`` from the
unit as written ("mg", "micrograms"), which a SNOMED CT code is not: "1000" coded milligram of co-codamol
8/500 (two tablets of its paracetamol) read as codeine would be 4000 mg of codeine a day, OME 400."""
_IN_A_DAY = {"s": 86400, "min": 1440, "h": 24, "d": 1}
"""How many of a period unit shorter than a week there are in a day (exact: every 8 hours is 3 a day)."""
_DAYS_IN = {"wk": 7, "mo": 30, "a": 365}
_HOURS_IN = {"s": Decimal(1) / 3600, "min": Decimal(1) / 60, "h": Decimal(1), "d": Decimal(24)}
_HOURS_IN |= {unit: Decimal(24 * days) for unit, days in _DAYS_IN.items()}
"""Hours in a period unit (a patch's change interval)."""
"""Days in a longer period unit (a month as 30 days, a year as 365: the text reader's convention)."""
_MEAL_EVENTS = frozenset({"C", "AC", "PC", "IC"})
"""R4 event-timing codes for "at / before / after / between meals" without saying which meal: each
meal, usually three, but the code does not say how many."""
_ALL_WEEK = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})
_WHEN_SLOTS = {
    **dict.fromkeys(("MORN", "MORN.early", "MORN.late", "WAKE", "CM", "ACM", "PCM", "ICM"), "morning"),
    **dict.fromkeys(("NOON", "CD", "ACD", "PCD"), "midday"),
    **dict.fromkeys(("AFT", "AFT.early", "AFT.late", "ICD"), "afternoon"),
    **dict.fromkeys(("EVE", "EVE.early", "EVE.late", "CV", "ACV", "PCV", "ICV"), "evening"),
    **dict.fromkeys(("NIGHT", "PHS", "HS"), "night"),
}
"""R4 event-timing codes (hl7.org/fhir/R4/valueset-event-timing.html, with v3 TimingEvent's: IC* is
between meals, ICM between breakfast and lunch) by the part of the day they fall in: two codes of one
part ("at night" and "before sleep"; "morning" and "on waking"; "with breakfast" and "in the morning")
may be one administration written twice, so they are not counted as two."""
_GTS = frozenset(
    {
        None,
        "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation",
        "http://hl7.org/fhir/v3/GTSAbbreviation",
    }
)
"""The systems a timing code is read from: HL7 v3 GTSAbbreviation at its R4 address and at its STU3 one
(GP Connect's STU3 dosages are passed on unchanged), or none, as GP systems send it."""

STRUCTURED_REFUSALS = frozenset(
    {
        "dose-comparator",
        "dose-not-positive",
        "dose-implausible",
        "dose-above-maximum",
        "dose-range-open",
        "dose-range-inverted",
        "dose-unit-conflict",
        "dose-entries-differ",
        "maximum-unreadable",
        "timing-unreadable",
        "timing-conflict",
        "dose-every-few-days",
    }
)
"""Structured fields that say something this reader does not turn into a figure: the dosage is refused
even when it has text, since the text alone would drop what they say (a maximum, some days only)."""


def _per_day_of(amount: Decimal, period: Decimal, unit: str) -> Decimal:
    """``amount`` per ``period`` ``unit`` as an amount per day (``unit`` one of R4's units-of-time)."""
    if unit in _IN_A_DAY:
        return amount * _IN_A_DAY[unit] / period
    return amount / (period * _DAYS_IN[unit])


def _number(value: Any) -> Decimal:
    return Decimal(str(value))


_MOST = Decimal(100000)
"""No structured figure (a dose, a maximum, a frequency, a period) past this is read: 1e25 tablets
crashed the formatting of the figure, and nothing a GP prescribes comes near it."""


def _amount(
    quantity: Mapping[str, Any], form: DoseForm, what: str, zero: bool = False
) -> tuple[Decimal, str] | DosageProblem:
    """A structured SimpleQuantity (a dose, a maximum) as (amount, kind): in mg, microgram/hour or units.
    Above zero (``zero``: or zero, a range's low end), in a unit that fits the product and agrees with
    its UCUM code; a bare number only where it cannot be the strength."""
    if quantity.get("comparator") is not None:
        # SimpleQuantity has no comparator in R4 (sqty-1): "< 10 mg" is no amount
        return DosageProblem("dose-comparator", f"The structured {what} has a comparator: not an amount")
    value = _number(quantity["value"])
    if value < 0 or (value == 0 and not zero):
        return DosageProblem("dose-not-positive", f"The structured {what} is not above zero")
    if value > _MOST:
        return DosageProblem("dose-implausible", f"The structured {what} is past any dose prescribed")
    unit, code = str(quantity.get("unit") or ""), str(quantity.get("code") or "")
    snomed = quantity.get("system") == _SNOMED
    coded_unit = _SNOMED_UNITS.get(code) if snomed else None
    # a code stands in for missing unit text: a SNOMED CT unit of _SNOMED_UNITS as the unit it is, any other
    # code as it is written (a SNOMED CT mass, "258684004", fits no product and is refused)
    written = unit or coded_unit or code
    kind = dose_kind(written, form)
    named = (_SNOMED_UNITS.get(code) or _SNOMED_MASSES.get(code)) if snomed else None
    if unit and named:
        coded = dose_kind(named, form)
        # "tablet" beside 258773002 (millilitre): 2 tablets, or 2 ml?
        if coded is None or (kind is not None and kind != coded):
            sentence = f"The structured {what}'s unit '{unit}' and its SNOMED CT code {code} ({named}) differ"
            return DosageProblem("dose-unit-conflict", sentence)
        if coded_unit:  # a unit text that fits no product gives way to its unit's code, never to a mass's
            kind = kind or coded
    if unit and code and quantity.get("system") == _UCUM:
        coded = dose_kind(code, form)
        # R4 Quantity: the code is the computer-processable unit; "tablet" beside "mg" is not one amount,
        # nor is "tablet" beside "mL" (a code that does not fit the product; an {annotation} may not)
        if (coded is None and not code.startswith("{")) or (
            coded is not None and kind is not None and kind != coded
        ):
            sentence = f"The structured {what}'s unit '{unit}' and its UCUM code '{code}' differ"
            return DosageProblem("dose-unit-conflict", sentence)
        kind = kind or coded
    if kind is None:
        shown = f"{written} (SNOMED CT {code})" if coded_unit and not unit else written
        return DosageProblem("dose-unit-unknown", f"Dose unit '{shown}' does not fit a {form.per_unit}")
    if bare_count_ambiguous(value, written, form):
        sentence = f"A structured {what} of {n(value)} without a unit may be the drug's strength, not a count"
        return DosageProblem("dose-ambiguous", sentence, (n(value),))
    return value * kind[1], kind[0]


def _compare(one: tuple[Decimal, str], other: tuple[Decimal, str], form: DoseForm) -> int | None:
    """-1, 0 or 1 as ``one`` is less, as much or more than ``other``; None when they cannot be compared."""
    if one[1] != other[1]:
        first, second = in_ingredient(*one, form), in_ingredient(*other, form)
        if first is None or second is None or first[1] != second[1]:
            return None
        one, other = first, second
    return (one[0] > other[0]) - (one[0] < other[0])


def _entry_dose(entry: Mapping[str, Any], form: DoseForm) -> tuple[Decimal, str] | DosageProblem | None:
    quantity = entry.get("doseQuantity")
    if quantity is not None:
        return _amount(quantity, form, "dose") if quantity.get("value") is not None else None
    dose_range = entry.get("doseRange") or {}
    low, high = dose_range.get("low") or {}, dose_range.get("high") or {}
    if high.get("value") is None:
        if low.get("value") is not None:  # "at least one": the most it allows is not said
            return DosageProblem("dose-range-open", "The structured dose range has no upper end")
        return None
    top = _amount(high, form, "dose")
    if low.get("value") is None or isinstance(top, DosageProblem):
        return top
    if not (low.get("unit") or low.get("code")):  # "1-2 tablets": the low end written as a bare number
        low = low | {k: high[k] for k in ("unit", "system", "code") if k in high}
    bottom = _amount(low, form, "dose", zero=True)
    if isinstance(bottom, DosageProblem):
        return bottom
    if _compare(bottom, top, form) == 1:
        return DosageProblem("dose-range-inverted", "The structured dose range's low end is above its high")
    return top


def _dose(dosage: Mapping[str, Any], form: DoseForm) -> tuple[Decimal, str] | DosageProblem | None:
    """The structured dose: every ``doseAndRate`` entry that gives one must say the same amount, and
    ``maxDosePerAdministration`` caps it."""
    entries = dosage.get("doseAndRate") or ()
    read = [(e, d) for e in entries if (d := _entry_dose(e, form)) is not None]
    if not read:
        return None
    if problem := next((d for _, d in read if isinstance(d, DosageProblem)), None):
        return problem
    entry, first = read[0]
    assert not isinstance(first, DosageProblem)
    if any(_compare(first, d, form) != 0 for _, d in read[1:] if not isinstance(d, DosageProblem)):
        return DosageProblem("dose-entries-differ", "The dosage's structured doses say different amounts")
    limit = dosage.get("maxDosePerAdministration")
    if limit is None or limit.get("value") is None:
        return first
    most = _amount(limit, form, "maximum per dose")
    if isinstance(most, DosageProblem):
        return DosageProblem("maximum-unreadable", f"{most.text}: the maximum per dose is not read")
    order = _compare(first, most, form)
    if order is None:
        return DosageProblem("maximum-unreadable", "The maximum per dose and the dose are not comparable")
    if order == 1 and "doseRange" not in entry:
        # a fixed dose above the maximum per dose: which did the prescriber mean?
        return DosageProblem("dose-above-maximum", "The structured dose is above its maximum per dose")
    return most if order == 1 else first  # a range's high end held to the maximum


def _positive(repeat: Mapping[str, Any]) -> DosageProblem | None:
    for key in ("frequency", "frequencyMax", "period", "periodMax", "count", "countMax"):
        if repeat.get(key) is not None and not 0 < _number(repeat[key]) <= _MOST:
            return DosageProblem(
                "timing-unreadable", f"The timing's {key} is not a plausible positive number"
            )
    for low, high in (("frequency", "frequencyMax"), ("period", "periodMax"), ("count", "countMax")):
        if repeat.get(low) is not None and repeat.get(high) is not None and repeat[high] < repeat[low]:
            return DosageProblem("timing-unreadable", f"The timing's {high} is below its {low}")
    return None


def _timing_problem(repeat: Mapping[str, Any]) -> DosageProblem | None:
    """Structured timings this reader does not turn into a daily amount, refused rather than read as
    daily: a period without its unit (R4 tim-2 requires one), a frequency with no period (so many times
    in what?), days of the week (taken on some days only: a daily figure would overstate it), and a
    meal code with no frequency (each meal: how many?)."""
    if problem := _positive(repeat):
        return problem
    if repeat.get("period") is not None and repeat.get("periodUnit") not in (_IN_A_DAY.keys() | _DAYS_IN):
        return DosageProblem("timing-unreadable", "The timing gives a period without its unit")
    if (repeat.get("frequency") or repeat.get("frequencyMax")) and repeat.get("period") is None:
        return DosageProblem("timing-unreadable", "The timing gives a frequency without the period it is in")
    if set(repeat.get("dayOfWeek") or _ALL_WEEK) != _ALL_WEEK:
        return DosageProblem("timing-unreadable", "The timing is on some days of the week only")
    if _MEAL_EVENTS & set(repeat.get("when") or ()) and repeat.get("period") is None:
        return DosageProblem("timing-unreadable", "The timing is at meals without saying how many a day")
    if repeat.get("when") and repeat.get("timeOfDay"):
        # R4 tim-10: a timeOfDay or a when, not both: are "08:00" and "NIGHT" two times or one?
        return DosageProblem("timing-unreadable", "The timing gives both times of day and daily events")
    times = [str(t) for t in repeat.get("timeOfDay") or ()]
    slots = [_WHEN_SLOTS.get(str(w), str(w)) for w in repeat.get("when") or ()]
    if len(set(times)) < len(times) or len(set(slots)) < len(slots):
        sentence = "The timing names one time of day twice: one administration or two is not read"
        return DosageProblem("timing-conflict", sentence)
    return None


def _code_per_day(timing: Mapping[str, Any]) -> Decimal | DosageProblem | None:
    """Administrations a day from ``timing.code``: its codings of HL7's GTSAbbreviation system (``_GTS``);
    a code of another system is not read as one ("QID" in SNOMED CT is no code at all). Codings that
    name different codes are refused, even of one frequency (AM and PM: once a day, but when?)."""
    codes = {
        str(c.get("code"))
        for c in (timing.get("code") or {}).get("coding") or ()
        if c.get("system") in _GTS
        and (c.get("code") in _TIMING_CODES or c.get("code") in _TIMING_CODES_WEEKLY)
    }
    if len(codes) > 1:
        return DosageProblem("timing-conflict", "The timing's codes name different times")
    code = next(iter(codes), None)
    if code in _TIMING_CODES:
        return Decimal(_TIMING_CODES[code])
    return _TIMING_CODES_WEEKLY.get(str(code))


def _per_day(timing: Mapping[str, Any]) -> Decimal | DosageProblem | None:
    repeat = timing.get("repeat") or {}
    if problem := _timing_problem(repeat):
        return problem
    frequency = _number(repeat.get("frequencyMax") or repeat.get("frequency") or 1)
    times = max(len(repeat.get("timeOfDay", [])), len(repeat.get("when", [])))
    per_day: Decimal | None = None
    if repeat.get("period") is not None:
        period, unit = _number(repeat["period"]), str(repeat["periodUnit"])
        per_day = _per_day_of(frequency, period, unit)
        if unit in _IN_A_DAY and period <= _IN_A_DAY[unit]:  # a period of a day or less
            per_day = max(per_day, Decimal(times))
        elif times > frequency:
            sentence = f"The timing lists {times} times but {n(frequency)} a period longer than a day"
            return DosageProblem("timing-conflict", sentence)
    elif times:
        per_day = Decimal(times)
    if per_day is not None and per_day > _IN_A_DAY["min"]:
        return DosageProblem("timing-unreadable", "The timing is more often than once a minute")
    coded = _code_per_day(timing)
    if isinstance(coded, DosageProblem):
        return coded
    if per_day is not None and coded is not None and per_day != coded:
        # R4 Timing.code: "a complete statement of whatever is specified in the structured timing data"
        sentence = f"The timing's code says {n(coded)} a day and its repeat {n(per_day)}"
        return DosageProblem("timing-conflict", sentence)
    per_day = per_day if per_day is not None else coded
    if per_day is not None and (per_day < 1 or _longer_than_a_day(repeat)):
        # once in 2 days, twice a week, QOD, WK: the day's dose is the whole of it, or a share of it?
        sentence = (
            f"The structured timing gives {n(per_day)} a day on average, over a period longer than a day: a "
            "dose taken every few days has no one daily amount (the day it is taken, or averaged over the "
            "days between?), so it is not read"
        )
        return DosageProblem("dose-every-few-days", sentence)
    count = repeat.get("countMax") or repeat.get("count")
    if per_day is not None and count is not None and _number(count) < per_day:
        per_day = _number(count)  # R4 count: the whole course is that many times
    return per_day


def _longer_than_a_day(repeat: Mapping[str, Any]) -> bool:
    """Whether a timing's (shortest) period is longer than a day: 2 d, 48 h, 1 wk, 1 mo."""
    if repeat.get("period") is None:
        return False
    return _number(repeat["period"]) * _HOURS_IN[str(repeat["periodUnit"])] > 24


_TIME_WORDS = {"hour": "h", "hours": "h", "hr": "h", "hrs": "h", "day": "d", "days": "d"}
_TIME_WORDS |= {"week": "wk", "weeks": "wk", "minute": "min", "minutes": "min", "month": "mo", "year": "a"}


def _time_unit(quantity: Mapping[str, Any]) -> str | None:
    """A Duration's unit as R4 units-of-time: its UCUM code when it has one (the text must agree), else
    its text read as one (``"24 hours"``); None when neither is a unit of time or they disagree."""
    text = str(quantity.get("unit") or "").strip().lower()
    text = _TIME_WORDS.get(text, text)
    code = str(quantity.get("code") or "") if quantity.get("system") == _UCUM else ""
    units = _IN_A_DAY.keys() | _DAYS_IN
    if code:
        return code if code in units and (not text or text == code) else None
    return text if text in units else None


def _cap(dosage: Mapping[str, Any], form: DoseForm) -> tuple[Decimal, str] | DosageProblem | None:
    """The prescribed maximum per day from ``maxDosePerPeriod``, if any; a problem when it is given and
    cannot be read (ignored, it would let the daily amount read above the prescriber's maximum; a
    period with no unit was once taken as days, so "8 per 24" capped at a third of a tablet a day)."""
    ratio = dosage.get("maxDosePerPeriod") or {}
    numerator, denominator = ratio.get("numerator") or {}, ratio.get("denominator") or {}
    if numerator.get("value") is None or denominator.get("value") is None:
        return None
    most = _amount(numerator, form, "maximum")
    if isinstance(most, DosageProblem):
        return DosageProblem("maximum-unreadable", f"{most.text}: the maximum per period is not read")
    unit = _time_unit(denominator)
    if unit is None or not 0 < _number(denominator["value"]) <= _MOST:
        return DosageProblem("maximum-unreadable", "The prescribed maximum's period is not in units read")
    per_day = _per_day_of(most[0], _number(denominator["value"]), unit)
    if per_day > _MOST:
        return DosageProblem("maximum-unreadable", "The prescribed maximum is past any dose prescribed")
    return per_day, most[1]


def _structured(dosage: Mapping[str, Any], form: DoseForm) -> DailyAmount | DosageProblem | None:
    as_needed = bool(dosage.get("asNeededBoolean") or dosage.get("asNeededCodeableConcept"))
    dose, cap = _dose(dosage, form), _cap(dosage, form)
    per_day = None if form.is_patch else _per_day(dosage.get("timing") or {})
    problems = [p for p in (dose, cap, per_day) if isinstance(p, DosageProblem)]
    # a refusal that text may not stand in for comes before a dose unit the text might make clear
    problems.sort(key=lambda p: p.code not in STRUCTURED_REFUSALS)
    if problems:
        return problems[0]
    assert not isinstance(dose, DosageProblem) and not isinstance(cap, DosageProblem)
    assert not isinstance(per_day, DosageProblem)
    if form.is_patch:
        return _patch(dosage, dose, as_needed, form)
    if dose is None:
        if cap is None:
            return None
        return DailyAmount(cap[0], cap[1], as_needed, f"maximum {n(cap[0])} {label(cap[1], form)} a day")
    value, kind = dose
    words = (f"{n(value)} {label(kind, form)}",)
    if per_day is None:
        if cap is None:
            return DosageProblem("frequency-missing", "The dosage says how much but not how often")
        basis = f"{n(value)} {label(kind, form)}, maximum {n(cap[0])} {label(cap[1], form)} a day"
        return DailyAmount(cap[0], cap[1], as_needed, basis, value, label(kind, form), None, words)
    basis = f"{n(value)} {label(kind, form)} x {n(per_day)} a day"
    amount = DailyAmount(value * per_day, kind, as_needed, basis, value, label(kind, form), per_day, words)
    amount = replace(amount, ranged=_ranged(dosage))
    return _capped(amount, cap, form)


def _ranged(dosage: Mapping[str, Any]) -> bool:
    """Whether a structured dosage gives a range of doses or of how often (read at its most)."""
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    doses = [e.get("doseRange") for e in dosage.get("doseAndRate") or () if isinstance(e, dict)]
    ranges = [r for r in doses if isinstance(r, dict) and (r.get("low") or {}).get("value") is not None]
    spread = any(
        _number(r["low"]["value"]) != _number((r.get("high") or {}).get("value", r["low"]["value"]))
        for r in ranges
    )
    return spread or any(
        repeat.get(most) is not None and repeat.get(least) is not None and repeat[most] != repeat[least]
        for least, most in (("frequency", "frequencyMax"), ("period", "periodMax"))
    )


def _patch(
    dosage: Mapping[str, Any], dose: tuple[Decimal, str] | None, as_needed: bool, form: DoseForm
) -> DailyAmount | DosageProblem | None:
    """A patch's dose, worn at once whatever its change interval. Its ``maxDosePerPeriod`` counts the
    patches applied in a period, not those worn at once: the dose may not be above it (2 patches at once
    under a maximum of 1 in 72 hours were read as 2 worn), and a maximum alone is not read (1 in 72 hours
    was read as a third of a patch worn, a third of the opioid)."""
    numerator = (dosage.get("maxDosePerPeriod") or {}).get("numerator") or {}
    if numerator.get("value") is not None:
        if dose is None:
            sentence = "A patch's maximum per period says how many are applied in it, not how many are worn"
            return DosageProblem("maximum-unreadable", sentence)
        most = _amount(numerator, form, "maximum")
        order = None if isinstance(most, DosageProblem) else _compare(dose, most, form)
        if order is None:
            return DosageProblem("maximum-unreadable", "The patch's maximum and its dose are not comparable")
        if order == 1:
            return DosageProblem(
                "dose-above-maximum", "The patches worn are more than its maximum per period"
            )
    if dose is None:
        return None
    value, kind = dose
    basis = f"{n(value)} {label(kind, form)} worn at once"
    words = (f"{n(value)} {label(kind, form)}",)
    return DailyAmount(value, kind, as_needed, basis, value, label(kind, form), None, words)


def _capped(
    amount: DailyAmount, cap: tuple[Decimal, str] | None, form: DoseForm
) -> DailyAmount | DosageProblem:
    if cap is None:
        return amount
    order = _compare((amount.quantity, amount.unit), cap, form)
    if order is None:
        # ignored, the maximum could not hold the figure to it: the figure might read above it
        sentence = "The prescribed maximum and the dose are in units that cannot be compared"
        return DosageProblem("maximum-unreadable", sentence)
    if order <= 0:
        return amount
    if cap[1] != amount.unit:  # held to the maximum, as ingredient (_compare converted both)
        held = in_ingredient(*cap, form)
        assert held is not None
        cap = held
    basis = f"{amount.basis}, capped at the prescribed maximum of {n(cap[0])} {label(cap[1], form)} a day"
    return DailyAmount(
        cap[0],
        cap[1],
        amount.as_needed,
        basis,
        amount.dose,
        amount.dose_unit,
        None,
        amount.words,
        ranged=amount.ranged,
    )
