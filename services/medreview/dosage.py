"""The most a FHIR R4 dosage lets a patient take in a day, from structured fields or free text.

Structured: ``doseAndRate`` (``doseQuantity``, or ``doseRange`` whose high end counts), ``timing.repeat``
(``frequency``/``frequencyMax`` per ``period``/``periodUnit``, ``timeOfDay``, ``when``), ``timing.code``,
``asNeeded[x]`` and ``maxDosePerPeriod``. Text: UK instructions such as "1-2 four times a day when required",
"two tablets qds", "one at night", "take one every 12 hours", "apply one patch every 7 days".

Ranges and "up to" count their maximum; a prescribed maximum (``maxDosePerPeriod``, "max 8 in 24 hours")
caps it. Patches are counted as patches worn at once, whatever the change interval. Nothing is guessed: what
cannot be read comes back as a :class:`DosageProblem`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["DailyAmount", "DosageProblem", "max_daily_amount", "parse_dosage_text"]

UNIT = "unit"  # one of the product's own units: tablet, capsule, patch, ml of a liquid, sachet
MG = "mg"
_DAYS = {"s": Decimal(1) / 86400, "min": Decimal(1) / 1440, "h": Decimal(1) / 24, "d": Decimal(1)}
_DAYS |= {"wk": Decimal(7), "mo": Decimal(30), "a": Decimal(365)}
# HL7 v3 GTSAbbreviation timing codes (R4 timing-abbreviation value set): administrations a day.
_TIMING_CODES = {"QD": 1, "BID": 2, "TID": 3, "QID": 4, "AM": 1, "PM": 1, "Q4H": 6, "Q6H": 4, "Q8H": 3}
_TIMING_CODES_WEEKLY = {"QOD": Decimal("0.5"), "WK": Decimal(1) / 7}


@dataclass(frozen=True, slots=True)
class DailyAmount:
    """At most ``quantity`` a day in ``unit`` (``unit``: the product's own units; ``mg``: of the ingredient).

    For patches ``quantity`` is the number of patches worn at once. ``basis`` explains the arithmetic.
    """

    quantity: Decimal
    unit: str
    as_needed: bool
    basis: str


@dataclass(frozen=True, slots=True)
class DosageProblem:
    """Why no daily amount could be read: a machine-readable ``code`` and a sentence."""

    code: str
    text: str


def max_daily_amount(
    dosages: Sequence[Mapping[str, Any]], *, product_unit: str, is_patch: bool
) -> DailyAmount | DosageProblem:
    """The maximum daily amount over a list of R4 Dosage dicts.

    Dosages with the same ``sequence`` run together and add up; different sequences follow one another and the
    largest counts. ``product_unit`` is the product's unit (``tablet``, ``capsule``, ``ml``, ``patch``...).
    """
    if not dosages:
        return DosageProblem("dosage-missing", "No dosage instruction was given")
    phases: dict[object, list[DailyAmount]] = {}
    for dosage in dosages:
        amount = _one_dosage(dosage, product_unit, is_patch)
        if isinstance(amount, DosageProblem):
            return amount
        phases.setdefault(dosage.get("sequence"), []).append(amount)
    totals = []
    for amounts in phases.values():
        if len({a.unit for a in amounts}) > 1:
            return DosageProblem("dose-unit-mixed", "Dosages taken together are written in different units")
        totals.append(
            DailyAmount(
                sum((a.quantity for a in amounts), Decimal(0)),
                amounts[0].unit,
                any(a.as_needed for a in amounts),
                " + ".join(a.basis for a in amounts),
            )
        )
    return max(totals, key=lambda a: a.quantity)


def _one_dosage(dosage: Mapping[str, Any], product_unit: str, is_patch: bool) -> DailyAmount | DosageProblem:
    structured = _structured(dosage, product_unit, is_patch)
    if isinstance(structured, DailyAmount):
        return structured
    text = str(dosage.get("text") or dosage.get("patientInstruction") or "").strip()
    if text:
        return parse_dosage_text(text, product_unit=product_unit, is_patch=is_patch)
    return structured or DosageProblem("dosage-missing", "The dosage has neither a structured dose nor text")


def _unit_kind(unit: str, product_unit: str) -> str | None:
    """``unit`` when a dose unit names the product's own unit, ``mg`` for a mass, else ``None``."""
    word = re.sub(r"(?<=patch)es$|s$", "", unit.strip().strip("{}").lower())
    if word in ("", "dose", "unit", "each", product_unit):
        return UNIT
    if product_unit in ("tablet", "capsule") and word in ("tablet", "capsule", "caplet", "tab", "cap"):
        return UNIT
    if product_unit == "ml" and word in ("ml", "millilitre", "milliliter"):
        return UNIT
    if word in ("mg", "milligram"):
        return MG
    return None


def _quantity(doses: Sequence[Mapping[str, Any]]) -> tuple[Decimal, str] | None:
    for dose in doses:
        quantity = dose.get("doseQuantity")
        if quantity is None and dose.get("doseRange"):
            quantity = dose["doseRange"].get("high") or dose["doseRange"].get("low")
        if quantity and quantity.get("value") is not None:
            return Decimal(str(quantity["value"])), str(quantity.get("unit") or quantity.get("code") or "")
    return None


def _per_day(timing: Mapping[str, Any]) -> Decimal | None:
    repeat = timing.get("repeat") or {}
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


def _cap(dosage: Mapping[str, Any], product_unit: str) -> tuple[Decimal, str] | None:
    """The prescribed maximum per day from ``maxDosePerPeriod``, if any."""
    ratio = dosage.get("maxDosePerPeriod") or {}
    numerator, denominator = ratio.get("numerator") or {}, ratio.get("denominator") or {}
    if numerator.get("value") is None or denominator.get("value") is None:
        return None
    kind = _unit_kind(str(numerator.get("unit") or numerator.get("code") or ""), product_unit)
    unit = str(denominator.get("unit") or denominator.get("code") or "d").lower()
    days = _DAYS.get({"hour": "h", "hours": "h", "day": "d", "days": "d", "week": "wk"}.get(unit, unit))
    if kind is None or days is None:
        return None
    return Decimal(str(numerator["value"])) / (Decimal(str(denominator["value"])) * days), kind


def _structured(
    dosage: Mapping[str, Any], product_unit: str, is_patch: bool
) -> DailyAmount | DosageProblem | None:
    as_needed = bool(dosage.get("asNeededBoolean") or dosage.get("asNeededCodeableConcept"))
    dose = _quantity(dosage.get("doseAndRate") or [])
    cap = _cap(dosage, product_unit)
    if dose is None:
        if cap is None:
            return None
        return DailyAmount(
            cap[0], cap[1], as_needed, f"maximum {_n(cap[0])} {_label(cap[1], product_unit)} a day"
        )
    value, unit_text = dose
    kind = _unit_kind(unit_text, product_unit)
    if kind is None:
        return DosageProblem("dose-unit-unknown", f"Dose unit '{unit_text}' does not fit a {product_unit}")
    if is_patch:
        return DailyAmount(value, kind, as_needed, f"{_n(value)} {product_unit} worn at once")
    per_day = _per_day(dosage.get("timing") or {})
    if per_day is None:
        if cap is None:
            return DosageProblem("frequency-missing", "The dosage says how much but not how often")
        return DailyAmount(
            cap[0], cap[1], as_needed, f"maximum {_n(cap[0])} {_label(cap[1], product_unit)} a day"
        )
    amount = DailyAmount(
        value * per_day, kind, as_needed, f"{_n(value)} {_label(kind, product_unit)} x {_n(per_day)} a day"
    )
    return _capped(amount, cap)


def _capped(amount: DailyAmount, cap: tuple[Decimal, str] | None) -> DailyAmount:
    if cap is not None and cap[1] == amount.unit and cap[0] < amount.quantity:
        basis = f"{amount.basis}, capped at the prescribed maximum of {_n(cap[0])} a day"
        return DailyAmount(cap[0], amount.unit, amount.as_needed, basis)
    return amount


def _n(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")).normalize(), "f")


def _label(kind: str, product_unit: str) -> str:
    return product_unit if kind == UNIT else kind


# --- free text ---------------------------------------------------------------------------------------
_WORDS = {"half": "0.5", "a": "1", "an": "1", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}
_WORDS |= {"six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10", "twelve": "12"}
_NUM = r"(?:\d+(?:\.\d+)?|half|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"
_RANGE = rf"(?P<low>{_NUM})(?:\s*(?:-|\u2013|to|or)\s*(?P<high>{_NUM}))?"
_UNITS = r"tablets?|tabs?|capsules?|caps?|caplets?|patch(?:es)?|ml|mls|millilitres?|mg|milligrams?|sachets?"
_DOSE = re.compile(rf"^(?:{_RANGE}|(?:a|an)(?=\s+(?:{_UNITS})))\s*(?P<unit>{_UNITS})?\b(?!\s*(?:times|x\b))")
# Dose units that no tablet, capsule, patch or liquid is measured in: read as "unit unknown", not as units.
_FOREIGN_UNIT = re.compile(
    r"\s*(?P<unit>puffs?|drops?|sprays?|spoonfuls?|lozenges?|suppositor\w*|units?|vials?|ampoules?|pessar\w*)\b"
)
_VERBS = re.compile(r"^(?:take|apply|give|use|to be taken|swallow|chew)\s+")
_AS_NEEDED = re.compile(
    r"when required|as required|when needed|as needed|\bprn\b|if needed|if required|when nec"
)
_TIMES_OF_DAY = r"in the morning|at night|at bedtime|at lunchtime|at teatime|in the evening|mane|nocte|midday"
_PAIRS = re.compile(rf"{_RANGE}\s*(?:{_UNITS})?\s*(?:{_TIMES_OF_DAY})")
_CAP = re.compile(
    rf"max(?:imum|\.)?\s*(?:of\s*)?{_RANGE}\s*(?P<unit>{_UNITS})?\s*(?:in|per|a|every|each)\s*"
    r"(?:24\s*hours?|day)"
)
_FREQUENCIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"every\s+{_RANGE}\s*(?:hours?|hrs?|h)\b"), "hours"),
    (re.compile(rf"{_RANGE}\s*-?\s*hourly"), "hours"),
    (re.compile(rf"every\s+{_RANGE}\s*days?\b"), "days"),
    (
        re.compile(rf"(?:up\s*to\s*)?{_RANGE}\s*(?:times|x)\s*(?:a|per|each|every|in)?\s*(?:day|daily|24)"),
        "times",
    ),
    (re.compile(r"\bfour times\b|\bqds\b|\bq\.d\.s\b|\bqid\b"), "4"),
    (re.compile(r"\bthree times\b|\bthrice\b|\btds\b|\bt\.d\.s\b|\btid\b"), "3"),
    (re.compile(r"\btwice\b|\bbd\b|\bb\.d\b|\bbid\b|morning and (?:at )?night"), "2"),
    (re.compile(r"weekly|once a week|every week"), "1/7"),
    (re.compile(rf"\bonce\b|\bdaily\b|\bod\b|\bom\b|every day|each day|a day|{_TIMES_OF_DAY}"), "1"),
)


def _number(word: str | None) -> Decimal | None:
    return None if word is None else Decimal(_WORDS.get(word, word))


def _high(match: re.Match[str]) -> Decimal:
    high = _number(match["high"]) or _number(match["low"])
    return high if high is not None else Decimal(1)


def _text_per_day(text: str) -> tuple[Decimal, str] | None:
    for pattern, kind in _FREQUENCIES:
        found = pattern.search(text)
        if found is None:
            continue
        if kind in ("hours", "days"):
            low = _number(found["low"]) or Decimal(1)  # the shortest interval gives the most doses
            return (Decimal(24) if kind == "hours" else Decimal(1)) / low, found.group(0)
        if kind == "times":
            return _high(found), found.group(0)
        return (Decimal(1) / 7 if kind == "1/7" else Decimal(kind)), found.group(0)
    return None


def parse_dosage_text(text: str, *, product_unit: str, is_patch: bool) -> DailyAmount | DosageProblem:
    """Read a UK free-text dosage instruction; see the module docstring for what is understood."""
    lowered = " ".join(text.lower().replace("½", "half").split())
    as_needed = bool(_AS_NEEDED.search(lowered))
    stripped = _VERBS.sub("", lowered)
    pairs = list(_PAIRS.finditer(stripped))
    if len(pairs) > 1:  # "one in the morning and two at night"
        total = sum((_high(p) for p in pairs), Decimal(0))
        return DailyAmount(total, UNIT, as_needed, f"{_n(total)} {product_unit} a day ({text})")
    dose = _DOSE.match(stripped)
    if dose is None:
        return DosageProblem("dose-quantity-missing", f"No dose quantity could be read in '{text}'")
    foreign = None if dose["unit"] else _FOREIGN_UNIT.match(stripped, dose.end())
    unit = foreign["unit"] if foreign else dose["unit"] or ""
    kind = None if foreign else _unit_kind(unit, product_unit)
    if kind is None:
        return DosageProblem("dose-unit-unknown", f"Dose unit '{unit}' does not fit a {product_unit}")
    quantity = _high(dose) if dose["low"] else Decimal(1)
    if is_patch:
        return DailyAmount(quantity, kind, as_needed, f"{_n(quantity)} {product_unit} worn at once")
    per_day = _text_per_day(stripped[dose.end() :])
    if per_day is None:
        return DosageProblem("frequency-missing", f"No frequency could be read in '{text}'")
    amount = DailyAmount(
        quantity * per_day[0],
        kind,
        as_needed,
        f"{_n(quantity)} {_label(kind, product_unit)} x {_n(per_day[0])} a day",
    )
    cap = _CAP.search(stripped)
    if cap is None:
        return amount
    cap_kind = _unit_kind(cap["unit"] or "", product_unit)
    return _capped(amount, (_high(cap), cap_kind) if cap_kind else None)
