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

__all__ = ["schedule_repeated", "stated_total", "strength_restated"]


def _label(kind: str, form: DoseForm) -> str:
    return form.per_unit if kind == "unit" else kind


_STATED_MG = re.compile(
    rf"(?P<total>{NUM}) mg (?:[a-z-]+ )?a day: (?P<made>.+?)"
    r"(?:, in divided doses as the prescriber directs)?\.?"
)
_STATED_RATE = re.compile(rf"apply (?P<total>{NUM}) microgram/hour: (?P<made>.+?) worn at once\.?")
_PART = re.compile(rf"(?P<count>{NUM}) x (?P<strength>{NUM}) (?:mg|microgram/hour) [a-z]+")


def stated_total(normal: str, form: DoseForm, text: str) -> DailyAmount | DosageProblem | None:
    """A daily total written with the units that make it up (module docstring), if ``normal`` is one."""
    stated = _STATED_RATE.fullmatch(normal) if form.is_patch else _STATED_MG.fullmatch(normal)
    if stated is None:
        return None
    parts = [p.strip() for p in stated["made"].split(" + ")]
    matches = [_PART.fullmatch(p) for p in parts]
    total = Decimal(stated["total"])
    made = sum((Decimal(m["count"]) * Decimal(m["strength"]) for m in matches if m), Decimal(0))
    if not all(matches) or made != total:
        return DosageProblem("dose-inconsistent", f"The parts of '{text}' do not add up to its daily total")
    kind = RATE if form.is_patch else MG
    stated_as = "worn at once" if form.is_patch else "a day"
    basis = f"stated total {n(total)} {kind} {stated_as} ({stated['made']})"
    return DailyAmount(total, kind, False, basis, None, _label(kind, form), None, (normal,))


_RESTATED = re.compile(
    rf"\b(?P<count>{NUM})\s*(?:x\s*)?(?P<strength>{NUM})\s*(?P<unit>mg|microgram/hour|microgram)"
    rf"(?:\s*/\s*{NUM}\s*(?:mg|g))?\s+(?P<form>tablets?|tabs?|capsules?|caps?|caplets?|patch(?:es)?)\b"
)


def strength_restated(normal: str, form: DoseForm, text: str) -> str | DosageProblem:
    """ "two 30mg tablets", "1 x 25 microgram/hour patch": counts, when the strength is the product's."""

    def check(match: re.Match[str]) -> str:
        strength = Decimal(match["strength"]) * (Decimal("0.001") if match["unit"] == "microgram" else 1)
        if form.strength_per_unit is None or strength != form.strength_per_unit:
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
