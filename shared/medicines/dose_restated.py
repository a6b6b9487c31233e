"""Doses written twice: a stated daily total and its units, a count with its strength, a schedule.

Pure; used by :mod:`shared.medicines.dose_text`. "110 mg morphine a day: 1 x 100 mg tablet + 1 x 10 mg tablet,
in divided doses as the prescriber directs" (as this service writes a taper step, which comes back from the
GP record as text alone) is read when its parts add up; "two 30mg/500mg tablets" is two tablets when 30 mg is
the product's strength. Either refused when the two writings disagree. A schedule that may be written twice
("1 qds 1 qds") is refused rather than added up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from shared.medicines.amounts import MG, RATE, DailyAmount, DosageProblem, DoseForm, n
from shared.medicines.dose_words import NUM, Token

__all__ = [
    "schedule_repeated",
    "stated_total",
    "step_dose",
    "step_ingredient",
    "step_names_its_units",
    "strength_restated",
]


def _label(kind: str, form: DoseForm) -> str:
    return form.per_unit if kind == "unit" else kind


# What to supply, after the dose (as this service writes a step): the quantity for the interval, not the dose.
_SUPPLY = r"(?:\. (?:controlled drug, schedule [2-5]\. )?supply .+ \([0-9]+ days\))?\.?"
_MASS = r"mg|microgram"
"""A step's masses: mg, or micrograms below 1 mg (as a prescriber writes them)."""
_STATED_MG = re.compile(
    rf"(?P<total>{NUM}) (?P<tu>{_MASS}) (?:(?P<ingredient>[a-z-]+) )?a day: (?P<made>.+?)"
    r"(?:, in divided doses as the prescriber directs)?" + _SUPPLY
)
_STATED_RATE = re.compile(
    rf"apply (?P<total>{NUM}) microgram/hour: (?P<made>.+?) worn at once(?:, changed every {NUM} hours)?"
    + _SUPPLY
)
_PART = re.compile(rf"(?P<count>{NUM}) x (?P<strength>{NUM}) (?P<su>mg|microgram/hour|microgram) [a-z]+")


def _mg(value: str, unit: str) -> Decimal:
    """A step's mass in mg (a microgram/hour rate as it is)."""
    return Decimal(value) * (Decimal("0.001") if unit == "microgram" else 1)


def _made(parts: list[re.Match[str] | None]) -> Decimal:
    return sum((Decimal(m["count"]) * _mg(m["strength"], m["su"]) for m in parts if m), Decimal(0))


_TIMES = {"once": 1, "twice": 2, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_TIMES.update({str(k): k for k in range(1, 7)})
_OFTEN = (
    r"(?P<upto>up to )?(?P<times>once|twice|one|two|three|four|five|six|[1-6])(?: times)? a day"
    r"(?P<prn> when required)?"
)
_STEP_UNITS = re.compile(
    rf"(?P<per>{NUM}) (?P<pu>{_MASS}) (?:(?P<ingredient>[a-z-]+) )?{_OFTEN} \((?:at most )?(?P<total>{NUM}) "
    rf"(?P<tu>{_MASS}) a day\): "
    r"(?P<made>.+?) each dose" + _SUPPLY
)
_STEP_LIQUID = re.compile(
    rf"(?P<per>{NUM}) (?P<pu>{_MASS}) (?:(?P<ingredient>[a-z-]+) )?"
    rf"\((?P<ml>{NUM}) ml of [^()]*(?:\([^()]*\)[^()]*)*\) {_OFTEN}, "
    rf"(?:at most )?(?P<total>{NUM}) (?P<tu>{_MASS}) a day" + _SUPPLY
)


def step_dose(normal: str, form: DoseForm, text: str) -> DailyAmount | DosageProblem | None:
    """A dose per administration as this service writes a taper step, read back from a GP record that keeps
    only the text: "25 mg morphine twice a day (50 mg a day): 1 x 15 mg tablet + 1 x 10 mg tablet each
    dose", "2.5 mg morphine (1.25 ml of ...) up to 4 times a day when required, at most 10 mg a day", each
    optionally followed by what to supply. Read only when every writing agrees: the units make the dose, the
    ml make it with the product's strength, and dose x times a day is the daily total; else refused."""
    match = _STEP_UNITS.fullmatch(normal)
    liquid = match is None
    if liquid:
        match = _STEP_LIQUID.fullmatch(normal)
    if match is None:
        return None
    per, total = _mg(match["per"], match["pu"]), _mg(match["total"], match["tu"])
    times = _TIMES[match["times"]]
    as_needed = match["prn"] is not None
    agree = per * times == total and (match["upto"] is not None) == as_needed
    if liquid:
        strength = form.strength_per_unit
        agree = (
            agree
            and form.per_unit == "ml"
            and strength is not None
            and Decimal(match["ml"]) * strength == per
        )
    else:
        parts = [_PART.fullmatch(p.strip()) for p in match["made"].split(" + ")]
        agree = agree and all(parts) and _made(parts) == per
    if not agree:
        return DosageProblem("dose-inconsistent", f"The parts of '{text}' do not agree with one another")
    basis = f"stated dose {n(per)} mg x {times} a day = {n(total)} mg a day"
    return DailyAmount(total, MG, as_needed, basis, per, MG, Decimal(times), (normal,))


def stated_total(normal: str, form: DoseForm, text: str) -> DailyAmount | DosageProblem | None:
    """A daily total written with the units that make it up (module docstring), if ``normal`` is one."""
    stated = _STATED_RATE.fullmatch(normal) if form.is_patch else _STATED_MG.fullmatch(normal)
    if stated is None:
        return None
    parts = [p.strip() for p in stated["made"].split(" + ")]
    matches = [_PART.fullmatch(p) for p in parts]
    total = Decimal(stated["total"]) if form.is_patch else _mg(stated["total"], stated["tu"])
    if not all(matches) or _made(matches) != total:
        return DosageProblem("dose-inconsistent", f"The parts of '{text}' do not add up to its daily total")
    kind = RATE if form.is_patch else MG
    stated_as = "worn at once" if form.is_patch else "a day"
    basis = f"stated total {n(total)} {kind} {stated_as} ({stated['made']})"
    return DailyAmount(total, kind, False, basis, None, _label(kind, form), None, (normal,))


_RESTATED = re.compile(
    # the count and the strength apart ("2 30mg", "1 x 30mg"): "15mg" is not 1 x 5mg
    rf"\b(?P<count>{NUM})(?:\s*x\s*|\s+)(?P<strength>{NUM})\s*(?P<unit>mg|microgram/hour|microgram)"
    rf"(?:\s*/\s*{NUM}\s*(?:mg|g))?\s+(?P<form>tablets?|tabs?|capsules?|caps?|caplets?|patch(?:es)?)\b"
)


_COUNT_OR_RANGE = re.compile(
    rf"\b{NUM}\s*-\s*{NUM}\s*(?:mg|microgram/hour|microgram)(?:\s*/\s*{NUM}\s*(?:mg|g))?\s+"
    r"(?:tablets?|tabs?|capsules?|caps?|caplets?|patch(?:es)?)\b"
)
""""2 - 30mg tablets": two 30 mg tablets, or 2 to 30 mg of tablets? Read as the range it had been, it
halved the dose; read as a count, "10-20mg tablets" of a 20 mg tablet would be ten."""


def strength_restated(normal: str, form: DoseForm, text: str) -> str | DosageProblem:
    """ "two 30mg tablets", "1 x 25 microgram/hour patch": counts, when the strength is the product's."""
    ambiguous = _COUNT_OR_RANGE.search(normal)
    if ambiguous:
        sentence = f"'{ambiguous.group(0)}' in '{text}' may be a count of tablets or a range of mg: not read"
        return DosageProblem("dose-ambiguous", sentence, (ambiguous.group(0),))

    def check(match: re.Match[str]) -> str:
        strength = Decimal(match["strength"]) * (Decimal("0.001") if match["unit"] == "microgram" else 1)
        # a patch's strength as its name writes it counts too ("1 x 12 microgram/hour patch" of the fentanyl
        # "12" patch, which releases 12.5)
        named = form.is_patch and strength in form.unit_strengths
        if form.strength_per_unit is None or (strength != form.strength_per_unit and not named):
            raise ValueError(match.group(0))
        return f"{match['count']} {match['form']}"

    try:
        return _RESTATED.sub(check, normal)
    except ValueError as mismatch:
        words = (str(mismatch),)
        return DosageProblem(
            "dose-inconsistent", f"The strength written differs from the product's in '{text}'", words
        )


def schedule_repeated(
    schedules: Sequence[Sequence[Token]], form: DoseForm, text: str
) -> DosageProblem | None:
    """Doses (each with its schedule's tokens) that may say one schedule twice, which adding up would double.

    "1 qds 1 qds", "1-2 qds, 2 qds" (two doses each with a daily frequency) and "2 tablets twice a day, 1 in
    the morning and 1 at night" (a frequency and times of day that may restate it) are not added up; a dose
    with a frequency plus a dose at one time of day ("1 tds and 2 at night") still is.
    """
    if form.is_patch:
        return None
    scheduled = sum(1 for s in schedules if any(t.kind in ("frequency", "interval") for t in s))
    timed = sum(
        1
        for s in schedules
        if not any(t.kind in ("frequency", "interval") for t in s) and any(t.kind == "time-of-day" for t in s)
    )
    if scheduled > 1 or (scheduled and timed > 1):
        sentence = f"Doses in '{text}' may repeat one schedule: adding them up is not certain"
        return DosageProblem("dose-repeated", sentence)
    return None


def step_ingredient(normal: str) -> str | None:
    """The ingredient named by a dose written as this service writes a step ("8 mg codeine three times a
    day (24 mg a day): 1 x 8 mg tablet each dose": codeine), or ``None`` when ``normal`` is not such a
    dose. Its masses are that ingredient's, whatever the product's partner ingredients."""
    for pattern in (_STEP_UNITS, _STEP_LIQUID, _STATED_MG):
        match = pattern.fullmatch(normal)
        if match is not None:
            return match["ingredient"]
    return None


def step_names_its_units(normal: str) -> bool:
    """Whether ``normal`` is a dose as this service writes a step, naming the units that make each dose
    ("25 mg morphine twice a day (50 mg a day): 1 x 15 mg tablet + 1 x 10 mg tablet each dose"): its mass
    is made of the strengths it names, so it is not the whole of a dose written on each strength's item."""
    return _STEP_UNITS.fullmatch(normal) is not None
