"""The most a FHIR R4 dosage lets a patient take in a day, from structured fields or free text.

Structured: ``doseAndRate`` (``doseQuantity``, or ``doseRange`` whose high end counts), ``timing.repeat``
(``frequency``/``frequencyMax`` per ``period``/``periodUnit``, ``timeOfDay``, ``when``), ``timing.code``,
``asNeeded[x]`` and ``maxDosePerPeriod``. Text: :mod:`shared.medicines.dose_text`.

Ranges and "up to" count their maximum; a prescribed maximum (``maxDosePerPeriod``, "max 8 in 24 hours")
caps it. A dose in mg, g, micrograms or microgram/hour is a quantity of drug, never a count of units.
Patches are counted as patches (or microgram/hour) worn at once, whatever the change interval. Nothing is
guessed: what cannot be read comes back as a :class:`DosageProblem`, among them structured timings not
modelled here (a period without its unit, a frequency without a period, some days of the week only) and
a dose with a comparator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
)
from shared.medicines.dose_text import label, read_dosage_text

__all__ = ["MG", "RATE", "UNIT", "DailyAmount", "DosageProblem", "DoseForm", "max_daily_amount"]

_DAYS = {"s": Decimal(1) / 86400, "min": Decimal(1) / 1440, "h": Decimal(1) / 24, "d": Decimal(1)}
_DAYS |= {"wk": Decimal(7), "mo": Decimal(30), "a": Decimal(365)}
# HL7 v3 GTSAbbreviation timing codes (R4 timing-abbreviation value set): administrations a day.
_TIMING_CODES = {"QD": 1, "BID": 2, "TID": 3, "QID": 4, "AM": 1, "PM": 1, "Q4H": 6, "Q6H": 4, "Q8H": 3}
_TIMING_CODES_WEEKLY = {"QOD": Decimal("0.5"), "WK": Decimal(1) / 7}


def max_daily_amount(dosages: Sequence[Mapping[str, Any]], form: DoseForm) -> DailyAmount | DosageProblem:
    """The maximum daily amount over a list of R4 Dosage dicts, for a product of ``form``.

    Dosages with the same ``sequence`` run together and add up; different sequences follow one another: when
    their daily amounts differ the dose changes over time and is refused (``dose-changes-over-time``), as in
    text ("1 bd for 7 days then 1 od").
    """
    if not dosages:
        return DosageProblem("dosage-missing", "No dosage instruction was given")
    phases: dict[object, list[DailyAmount]] = {}
    for dosage in dosages:
        amount = _one_dosage(dosage, form)
        if isinstance(amount, DosageProblem):
            return amount
        phases.setdefault(dosage.get("sequence"), []).append(amount)
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
    return totals[0]


_TEXT_LEAVES_TO_STRUCTURED = frozenset({"dose-quantity-missing", "frequency-missing"})
"""Text problems that only mean the text says less than the structured fields ("twice a day" beside a
structured dose of two tablets): the structured dose stands. Any other (words not read, a contradiction)
makes the dosage not computable even with a structured dose."""


def _one_dosage(dosage: Mapping[str, Any], form: DoseForm) -> DailyAmount | DosageProblem:
    structured = _structured(dosage, form)
    text = str(dosage.get("text") or dosage.get("patientInstruction") or "").strip()
    if isinstance(structured, DailyAmount):
        written = read_dosage_text(text, form) if text else None
        if isinstance(written, DailyAmount) and _differ(structured, written, form):
            sentence = f"The structured dose ({structured.basis}) and the text '{text}' say different amounts"
            return DosageProblem("dose-inconsistent", sentence)
        if isinstance(written, DosageProblem) and written.code not in _TEXT_LEAVES_TO_STRUCTURED:
            # the text says something not read with certainty ("... or as the pain clinic advises"): the
            # structured dose may not be all of the prescription, so it is not taken alone
            sentence = f"{written.text}: the structured dose ({structured.basis}) may not be all it says"
            return DosageProblem(written.code, sentence, written.words)
        return structured
    if text:
        return read_dosage_text(text, form)
    return structured or DosageProblem("dosage-missing", "The dosage has neither a structured dose nor text")


def _differ(structured: DailyAmount, written: DailyAmount, form: DoseForm) -> bool:
    """Whether a dosage's structured fields and its text, both read, give different daily amounts."""
    if structured.unit == written.unit:
        return structured.quantity != written.quantity
    one = in_ingredient(structured.quantity, structured.unit, form)
    other = in_ingredient(written.quantity, written.unit, form)
    return one is not None and other is not None and one != other


def _quantity(doses: Sequence[Mapping[str, Any]]) -> tuple[Decimal, str] | DosageProblem | None:
    for dose in doses:
        quantity = dose.get("doseQuantity")
        if quantity is None and dose.get("doseRange"):
            quantity = dose["doseRange"].get("high")
            if quantity is None and dose["doseRange"].get("low") is not None:
                # "at least one": the most it allows is not said (the low end is not the maximum)
                return DosageProblem("dose-range-open", "The structured dose range has no upper end")
        if quantity and quantity.get("comparator") is not None:
            # A dose is a SimpleQuantity, which R4 gives no comparator (sqty-1): "< 10 mg" is no amount.
            return DosageProblem("dose-comparator", "The structured dose has a comparator: not an amount")
        if quantity and quantity.get("value") is not None:
            return Decimal(str(quantity["value"])), str(quantity.get("unit") or quantity.get("code") or "")
    return None


_ALL_WEEK = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})


def _timing_problem(repeat: Mapping[str, Any]) -> DosageProblem | None:
    """Structured timings this reader does not turn into a daily amount, refused rather than read as
    daily: a period without its unit (R4 tim-2 requires one), a frequency with no period (so many times
    in what?), and days of the week (taken on some days only: a daily figure would overstate it)."""
    if repeat.get("period") is not None and repeat.get("periodUnit") not in _DAYS:
        return DosageProblem("timing-unreadable", "The timing gives a period without its unit")
    if (repeat.get("frequency") or repeat.get("frequencyMax")) and repeat.get("period") is None:
        return DosageProblem("timing-unreadable", "The timing gives a frequency without the period it is in")
    if set(repeat.get("dayOfWeek") or _ALL_WEEK) != _ALL_WEEK:
        return DosageProblem("timing-unreadable", "The timing is on some days of the week only")
    return None


def _per_day(timing: Mapping[str, Any]) -> Decimal | DosageProblem | None:
    repeat = timing.get("repeat") or {}
    if problem := _timing_problem(repeat):
        return problem
    frequency = repeat.get("frequencyMax") or repeat.get("frequency")
    times = max(len(repeat.get("timeOfDay", [])), len(repeat.get("when", [])))
    if repeat.get("period") is not None and repeat.get("periodUnit") in _DAYS:
        period_days = Decimal(str(repeat["period"])) * _DAYS[repeat["periodUnit"]]
        per_day = Decimal(frequency or 1) / period_days
        return max(per_day, Decimal(times)) if period_days <= 1 else per_day
    if frequency or times:
        return Decimal(max(frequency or 0, times))
    code = next((c.get("code") for c in (timing.get("code") or {}).get("coding", [])), None)
    if code in _TIMING_CODES:
        return Decimal(_TIMING_CODES[code])
    return _TIMING_CODES_WEEKLY.get(str(code))


def _cap(dosage: Mapping[str, Any], form: DoseForm) -> tuple[Decimal, str] | DosageProblem | None:
    """The prescribed maximum per day from ``maxDosePerPeriod``, if any; a problem when it is given and
    cannot be read (ignored, it would let the daily amount read above the prescriber's maximum; a
    period with no unit was once taken as days, so "8 per 24" capped at a third of a tablet a day)."""
    ratio = dosage.get("maxDosePerPeriod") or {}
    numerator, denominator = ratio.get("numerator") or {}, ratio.get("denominator") or {}
    if numerator.get("value") is None or denominator.get("value") is None:
        return None
    kind = dose_kind(str(numerator.get("unit") or numerator.get("code") or ""), form)
    unit = str(denominator.get("unit") or denominator.get("code") or "").lower()
    days = _DAYS.get({"hour": "h", "hours": "h", "day": "d", "days": "d", "week": "wk"}.get(unit, unit))
    if kind is None or days is None or not Decimal(str(denominator["value"])) > 0:
        return DosageProblem("maximum-unreadable", "The prescribed maximum per period is not in units read")
    return Decimal(str(numerator["value"])) * kind[1] / (Decimal(str(denominator["value"])) * days), kind[0]


def _structured(dosage: Mapping[str, Any], form: DoseForm) -> DailyAmount | DosageProblem | None:
    as_needed = bool(dosage.get("asNeededBoolean") or dosage.get("asNeededCodeableConcept"))
    dose = _quantity(dosage.get("doseAndRate") or [])
    if isinstance(dose, DosageProblem):
        return dose
    cap = _cap(dosage, form)
    if isinstance(cap, DosageProblem):
        return cap
    if dose is None:
        if cap is None:
            return None
        return DailyAmount(cap[0], cap[1], as_needed, f"maximum {n(cap[0])} {label(cap[1], form)} a day")
    value, unit_text = dose
    kind = dose_kind(unit_text, form)
    if kind is None:
        return DosageProblem("dose-unit-unknown", f"Dose unit '{unit_text}' does not fit a {form.per_unit}")
    if bare_count_ambiguous(value, unit_text, form):
        sentence = f"A structured dose of {n(value)} without a unit may be the drug's strength, not a count"
        return DosageProblem("dose-ambiguous", sentence, (n(value),))
    value = value * kind[1]
    words = (f"{n(value)} {label(kind[0], form)}",)
    if form.is_patch:
        basis = f"{n(value)} {label(kind[0], form)} worn at once"
        return DailyAmount(value, kind[0], as_needed, basis, value, label(kind[0], form), None, words)
    per_day = _per_day(dosage.get("timing") or {})
    if isinstance(per_day, DosageProblem):
        return per_day
    if per_day is None:
        if cap is None:
            return DosageProblem("frequency-missing", "The dosage says how much but not how often")
        return DailyAmount(cap[0], cap[1], as_needed, f"maximum {n(cap[0])} {label(cap[1], form)} a day")
    basis = f"{n(value)} {label(kind[0], form)} x {n(per_day)} a day"
    amount = DailyAmount(
        value * per_day, kind[0], as_needed, basis, value, label(kind[0], form), per_day, words
    )
    return _capped(amount, cap, form)


def _capped(amount: DailyAmount, cap: tuple[Decimal, str] | None, form: DoseForm) -> DailyAmount:
    if cap is None:
        return amount
    if cap[1] != amount.unit:
        mine, theirs = in_ingredient(amount.quantity, amount.unit, form), in_ingredient(cap[0], cap[1], form)
        if mine is None or theirs is None or theirs[0] >= mine[0]:
            return amount
        cap = theirs
    elif cap[0] >= amount.quantity:
        return amount
    basis = f"{amount.basis}, capped at the prescribed maximum of {n(cap[0])} {label(cap[1], form)} a day"
    return DailyAmount(
        cap[0], cap[1], amount.as_needed, basis, amount.dose, amount.dose_unit, None, amount.words
    )
