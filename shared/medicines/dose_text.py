"""Read a UK free-text dosage instruction into the most a patient may take a day, or refuse it.

Pure. The words are read by :mod:`shared.medicines.dose_words`; every word must be understood, or the
instruction is not computable and the problem names the words. Rules:

* a dose is a count of the product's units ("2 tablets", "ii", "one and a half") or a quantity of drug
  ("200 micrograms", "10mg", "5ml", "10 micrograms/hour"), converted with the product's strength; a range or
  alternative ("1-2", "a tablet or two", "10ml to 20ml") counts its maximum;
* administrations a day come from a frequency ("qds", "3 times a day", "1-2 times a day": its maximum), an
  interval ("every 4 to 6 hours": the shortest, 24/4 = 6; an interval that does not divide 24 counts the
  doses that fit in 24 hours, rounded up) or times of day ("one in the morning and two at night" adds up);
  a frequency written beside an interval ("every 4 hours, up to 4 times a day") is the lower;
* a prescribed cap ("maximum 8 in 24 hours", "max 240mg a day", "not more than 4 doses a day") lowers the
  daily amount to it; with no frequency it is the daily amount itself;
* "two now, then one every 4 hours": the loading dose is noted, the maintenance counts;
* a dose that changes over time, phases joined by "then" ("1 bd for 7 days then 1 od", "2 qds for 3 days
  then 1 qds"), is refused (``dose-changes-over-time``, naming the words): which phase applies today
  depends on when it started, which the text does not say (as "reduce to 1 qds after 3 days" is refused);
* a patch counts the patches (or microgram/hour) worn at once, whatever its change interval ("every 72
  hours", "weekly", "every 3/7": every three days, the NHS shorthand); a tablet, capsule or liquid taken
  every few days ("on alternate days", "every 3 days", "weekly": any interval past 24 hours) is refused
  (``dose-every-few-days``), as one taken on named days is (``dose-on-weekdays``): it has no one daily
  amount (the day it is taken, or averaged over the days between?);
* a dash with a space each side that is no range ("1-2 qds prn - may cause drowsiness", "2 qds - do not
  exceed 8 in 24 hours") breaks sentences; a dose written again after it ("1 bd - one in the morning and
  one at night") is a restatement, read when both say the same dose, times a day and figure, else refused
  (``dose-inconsistent``); a range from more to less ("2 tablets - 1 at night") is refused
  (``dose-range-inverted``);
* a day's total written beside the dose ("1 bd (total 20mg daily)", "a total of 20mg a day") is read when
  it is the figure read, refused when it differs (``dose-inconsistent``) or cannot be compared with it
  (``dose-total-unreadable``: a bare number that may be a mass, a unit that does not fit, a patch);
* a stated daily total with what makes it up, as this service writes a taper step ("110 mg morphine a
  day: 1 x 100 mg tablet + 1 x 10 mg tablet, in divided doses as the prescriber directs"; "Apply 37
  micrograms/hour: 1 x 25 micrograms/hour patch + 1 x 12 micrograms/hour patch worn at once"), which comes
  back from the GP record as text alone, is read when the parts add up to the total, else refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from shared.medicines.amounts import (
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
from shared.medicines.dose_restated import schedule_repeated, stated_total, step_dose, strength_restated
from shared.medicines.dose_words import Token, normalise, tokens

__all__ = [
    "HOW_OFTEN_UNSAID",
    "WrittenPart",
    "above_a_time",
    "read_dosage_text",
    "read_written_part",
    "with_written_caps",
    "writes_a_maximum",
]

_SCHEDULE = frozenset({"frequency", "interval", "time-of-day"})
_SEPARATORS = frozenset({",", ";", "and", "&", "plus", "+", ".", "-"})
_DAY_HOURS = Decimal(24)


@dataclass
class _Group:
    quantity: Token
    schedule: list[Token] = field(default_factory=list)
    restated: Token | None = None


def label(kind: str, form: DoseForm) -> str:
    """How a kind of amount is named for this product."""
    return form.per_unit if kind == UNIT else kind


def _problem(code: str, text: str, words: tuple[str, ...] = ()) -> DosageProblem:
    return DosageProblem(code, text, words)


def read_dosage_text(text: str, form: DoseForm) -> DailyAmount | DosageProblem:
    """The most of the product a day that ``text`` allows (module docstring), or why it cannot be read."""
    normal = normalise(text)
    stated = stated_total(normal, form, text)
    if stated is not None:
        return stated
    step = step_dose(normal, form, text)
    if step is not None:
        return step
    restated = strength_restated(normal, form, text)
    if isinstance(restated, DosageProblem):
        return restated
    found = tokens(restated)
    unread = tuple(t.text for t in found if t.kind == "unread")
    if unread:
        words = ", ".join(f"'{w}'" for w in unread)
        return _problem("dosage-words-unread", f"Could not read {words} in '{text}'", unread)
    weekdays = tuple(t.text for t in found if t.kind == "weekdays")
    if weekdays and not form.is_patch:
        # A patch's daily amount is the patches worn, whatever days they are changed on; a tablet taken on
        # named days has no one daily amount (the day it is taken, or averaged over the week?): not read.
        return _problem(
            "dose-on-weekdays", f"A dose taken on named days of the week in '{text}' is not read", weekdays
        )
    few_days = _every_few_days(found, form, text)
    if few_days is not None:
        return few_days
    totals = [t for t in found if t.kind == "total"]
    found = [t for t in found if t.kind != "total"]
    amount = _restated_after_dash(found, form, text)
    if isinstance(amount, DosageProblem) or not totals:
        return amount
    return _as_its_total(amount, totals, form, text)


def _every_few_days(found: Sequence[Token], form: DoseForm, text: str) -> DosageProblem | None:
    """A tablet, capsule or liquid taken at an interval longer than a day ("on alternate days", "every 3
    days", "weekly", "every 72 hours"): refused (module docstring). A patch counts what is worn, whatever
    its change interval; "every 1-2 days" is at most once a day."""
    longer = tuple(t.text for t in found if t.kind == "interval" and t.low is not None and t.low > _DAY_HOURS)
    if not longer or form.is_patch:
        return None
    named = ", ".join(f"'{w}'" for w in longer)
    sentence = (
        f"A dose taken every few days ({named}) in '{text}' has no one daily amount (the day it is taken, or "
        "averaged over the days between?): not read"
    )
    return _problem("dose-every-few-days", sentence, longer)


def _dash_parts(found: Sequence[Token]) -> list[list[Token]]:
    """The tokens between dashes that break sentences ("1 bd - one in the morning and one at night")."""
    parts: list[list[Token]] = [[]]
    for token in found:
        if token.kind == "filler" and token.text == "-":
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _restated_after_dash(found: list[Token], form: DoseForm, text: str) -> DailyAmount | DosageProblem:
    """``found`` read; a dose written again after a dash ("1 bd - one in the morning and one at night") is
    read alone and must say what the dose before it says (the same figure, dose, times a day and "when
    required"), else refused. Advice or a maximum after a dash ("- may cause drowsiness", "- do not exceed 8
    in 24 hours") is read with the dose; a dose that changes ("then") or starts with a loading dose is read
    whole, the dash a break between its sentences."""
    parts = _dash_parts(found)
    doses = [p for p in parts if any(t.kind == "quantity" for t in p)]
    if len(doses) < 2 or any(t.kind in ("then", "loading") for t in found):
        return _read(found, form, text)
    rest = [t for p in parts if not any(t.kind == "quantity" for t in p) for t in p]
    readings: list[DailyAmount] = []
    for part in doses:
        reading = _read([*part, *rest], form, text)
        if isinstance(reading, DosageProblem):
            return reading
        readings.append(reading)
    first = readings[0]
    for other in readings[1:]:
        if not _same_reading(first, other, form):
            said = "; ".join(r.basis + (" when required" if r.as_needed else "") for r in (first, other))
            sentence = (
                f"The dose in '{text}' and its restatement after a dash differ ({said}): which is taken is "
                "not read"
            )
            return _problem("dose-inconsistent", sentence)
    restated = "; ".join(r.basis for r in readings[1:])
    words = tuple(dict.fromkeys(w for r in readings for w in r.words))
    return replace(first, basis=f"{first.basis} (restated: {restated})", words=words)


def _as_ingredient(amount: tuple[Decimal, str], form: DoseForm) -> tuple[Decimal, str] | None:
    return in_ingredient(*amount, form) if amount[1] == UNIT else amount


def _same_amount(one: tuple[Decimal, str], other: tuple[Decimal, str], form: DoseForm) -> bool:
    """Whether two amounts ((amount, kind)) are the same: in one kind, or both in the ingredient."""
    if one[1] == other[1]:
        return one[0] == other[0]
    first, second = _as_ingredient(one, form), _as_ingredient(other, form)
    return first is not None and first == second


def _same_reading(one: DailyAmount, other: DailyAmount, form: DoseForm) -> bool:
    """Whether two readings say the same figure, dose a time, times a day and "when required" ("1 bd" and
    "one in the morning and one at night": 2 tablets a day, 1 a time, twice a day)."""
    if one.as_needed != other.as_needed:
        return False
    if not _same_amount((one.quantity, one.unit), (other.quantity, other.unit), form):
        return False
    (dose, per_day), (other_dose, other_per_day) = schedule(one), schedule(other)
    if per_day != other_per_day or (dose is None) != (other_dose is None):
        return False
    if dose is None or other_dose is None:
        return True
    kind = UNIT if one.dose_unit == form.per_unit else one.dose_unit
    other_kind = UNIT if other.dose_unit == form.per_unit else other.dose_unit
    return _same_amount((dose, kind), (other_dose, other_kind), form)


def _as_its_total(
    amount: DailyAmount, totals: Sequence[Token], form: DoseForm, text: str
) -> DailyAmount | DosageProblem:
    """``amount`` when every day's total written beside it ("total 20mg daily") is its figure."""
    read = (amount.quantity, amount.unit)
    for total in totals:
        value = total.high or Decimal(0)
        kind = dose_kind(total.unit, form)
        stated = None if kind is None else (value * kind[1], kind[0])
        if (
            stated is not None
            and stated[1] != read[1]
            and None in (_as_ingredient(stated, form), _as_ingredient(read, form))
        ):
            stated = None  # tablets beside mg, the strength not known
        if form.is_patch or stated is None or bare_count_ambiguous(value, total.unit, form):
            # a patch's figure is what is worn, no day's total; "total 20 daily" of a 10 mg tablet: 20
            # tablets, or 20 mg?
            sentence = (
                f"The day's total '{total.text}' in '{text}' cannot be compared with the dose read: not read"
            )
            return _problem("dose-total-unreadable", sentence, (total.text,))
        if not _same_amount(read, stated, form):
            sentence = f"The dose read ({amount.basis}) and the day's total '{total.text}' in '{text}' differ"
            return _problem("dose-inconsistent", sentence, (total.text,))
    written = "; ".join(f"'{t.text}'" for t in totals)
    words = amount.words + tuple(t.text for t in totals)
    return replace(amount, basis=f"{amount.basis}, as its stated total {written}", words=words)


def _read(found: list[Token], form: DoseForm, text: str) -> DailyAmount | DosageProblem:
    """The tokens of a text (all read, no day's total among them) as the most a day (module docstring)."""
    as_needed = any(t.kind == "as-needed" for t in found)
    caps = [t for t in found if t.kind == "cap"]
    a_time = [t for t in found if t.kind == "dose-cap"]
    phases: list[list[Token]] = [[]]
    for token in found:
        if token.kind == "then":
            phases.append([])
        elif token.kind not in ("cap", "dose-cap"):
            phases[-1].append(token)
    loading = ""
    if len(phases) > 1 and any(t.kind == "loading" for t in phases[0]):
        loading = " ".join(t.text for t in phases[0] if t.kind != "filler")
        phases = phases[1:]
    if any(t.kind == "loading" for phase in phases for t in phase):
        return _problem("dose-loading-unclear", f"A loading dose without a dose to follow it in '{text}'")
    if len(phases) > 1:
        # "1 bd for 7 days then 1 od": which phase applies today depends on when it started, which the
        # prescription does not say; the largest would overstate a step-down, the first a step-up
        changing = tuple(t.text for t in found if t.kind in ("then", "duration"))
        named = ", ".join(f"'{w}'" for w in changing)
        sentence = (
            f"The dose in '{text}' changes over time ({named}): which phase applies today depends on when "
            "it started, so it is not read"
        )
        return _problem("dose-changes-over-time", sentence, changing)
    amounts: list[DailyAmount] = []
    for phase in phases:
        amount = _phase(phase, caps, form, text, as_needed, a_time)
        if isinstance(amount, DosageProblem):
            return amount
        amounts.append(amount)
    best = _largest(amounts, form, text)
    if isinstance(best, DosageProblem) or not loading:
        return best
    basis = f"{best.basis}; loading dose '{loading}' noted, not counted in the daily total"
    return DailyAmount(
        best.quantity,
        best.unit,
        as_needed,
        basis,
        best.dose,
        best.dose_unit,
        best.per_day,
        best.words,
        loading,
        total_only=best.total_only,
        ranged=best.ranged,
    )


def _largest(amounts: list[DailyAmount], form: DoseForm, text: str) -> DailyAmount | DosageProblem:
    if len({a.unit for a in amounts}) == 1:
        return max(amounts, key=lambda a: a.quantity)
    converted = [(in_ingredient(a.quantity, a.unit, form), a) for a in amounts]
    if any(c is None for c, _ in converted):
        return _problem("dose-unit-mixed", f"The phases of '{text}' are written in different units")
    return max(converted, key=lambda pair: pair[0][0] if pair[0] else Decimal(0))[1]


def _groups(phase: list[Token], text: str) -> list[_Group] | DosageProblem:
    groups: list[_Group] = []
    pending: list[Token] = []
    previous: Token | None = None
    for token in phase:
        if token.kind == "quantity":
            if previous is not None and previous.text == "(" and groups and not groups[-1].restated:
                groups[-1].restated = token
            elif previous is not None and previous.kind == "quantity":
                words = (previous.text, token.text)
                return _problem("dose-ambiguous", f"Two quantities side by side in '{text}'", words)
            else:
                groups.append(_Group(token))
        elif token.kind in _SCHEDULE:
            (groups[-1].schedule if groups else pending).append(token)
        if token.kind != "filler" or token.text in _SEPARATORS or token.text == "(":
            previous = token
    if groups and pending:
        groups[0].schedule[:0] = pending
    return groups


def _per_day(schedule: list[Token], text: str) -> Decimal | DosageProblem | None:
    frequencies = {t.high for t in schedule if t.kind == "frequency"}
    intervals = [t.low for t in schedule if t.kind == "interval" and t.low]
    slots = {t.slot for t in schedule if t.kind == "time-of-day"}
    if len(frequencies) > 1:
        return _problem("frequency-conflict", f"Two different frequencies in '{text}'")
    candidates: list[Decimal] = [f for f in frequencies if f is not None]
    if intervals:
        hours = min(intervals)
        per_day = Decimal(24) / hours
        candidates.append(Decimal(math.ceil(per_day)) if hours < 24 else per_day)
    if not candidates:
        return Decimal(len(slots)) if slots else None
    per_day = min(candidates)
    if slots and len(slots) != per_day:  # "one at night (12-hourly)": which is it?
        return _problem("frequency-conflict", f"The times of day and the frequency differ in '{text}'")
    return per_day


def _phase(
    phase: list[Token],
    caps: list[Token],
    form: DoseForm,
    text: str,
    as_needed: bool,
    a_time: Sequence[Token] = (),
) -> DailyAmount | DosageProblem:
    groups = _groups(phase, text)
    if isinstance(groups, DosageProblem):
        return groups
    if not groups:
        return _problem("dose-quantity-missing", f"No dose quantity could be read in '{text}'")
    repeated = schedule_repeated([g.schedule for g in groups], form, text)
    if repeated is not None:
        return repeated
    # doses each at named times of day only ("1 in the morning and 1 at night"): one schedule when the
    # doses are the same, if no time is named twice ("1 in the morning and 1 mane": one dose or two?)
    named = len(groups) > 1 and all(
        g.schedule and all(t.kind == "time-of-day" for t in g.schedule) for g in groups
    )
    slots = [t.slot for g in groups for t in g.schedule]
    if named and len(set(slots)) < len(slots):
        return _problem("frequency-conflict", f"One time of day is named twice in '{text}'")
    # "1 in the morning and 1 at night when required": which is when required? not one schedule
    named = named and not as_needed
    parts: list[tuple[Decimal, str, Decimal, Decimal | None]] = []  # daily, kind, dose, per day
    for group in groups:
        unit = group.quantity.unit
        kind = dose_kind(unit, form) if unit != "mixed" else None
        if kind is None:
            code = "dose-unit-missing" if not unit else "dose-unit-unknown"
            written = unit or "a bare number"
            return _problem(
                code, f"Dose unit '{written}' does not fit a {form.per_unit}", (group.quantity.text,)
            )
        inverted = _inverted(group.quantity, text)
        if inverted is not None:
            return inverted
        bare = [v for v in (group.quantity.low, group.quantity.high) if v is not None]
        if any(bare_count_ambiguous(v, unit, form) for v in bare):
            return _problem(
                "dose-ambiguous",
                f"'{group.quantity.text}' has no unit and may be the drug's strength, not a count of "
                f"{form.per_unit} units: not read",
                (group.quantity.text,),
            )
        dose = (group.quantity.high or Decimal(0)) * kind[1]
        restated = _restatement(group, dose, kind[0], form, text)
        if restated is not None:
            return restated
        above = above_a_time(dose, kind[0], a_time, form, text)
        if above is not None:
            return above
        if form.is_patch:
            parts.append((dose, kind[0], dose, None))
            continue
        per_day = _per_day(group.schedule, text)
        if isinstance(per_day, DosageProblem):
            return per_day
        if per_day is None and (len(groups) > 1 or not caps):
            return _problem("frequency-missing", f"No frequency could be read in '{text}'")
        parts.append((dose * per_day if per_day is not None else Decimal(-1), kind[0], dose, per_day))
    total = _total(parts, caps, form, text, as_needed, phase, named)
    if isinstance(total, DailyAmount) and len(groups) == 1 and _total_only(groups[0], parts[0], form):
        written = f"{n(parts[0][2])} {label(parts[0][1], form)}"
        basis = f"{written}{HOW_OFTEN_UNSAID}" + total.basis.partition(" a day")[2]
        return replace(total, basis=basis, total_only=True)
    return total


def _inverted(quantity: Token, text: str) -> DosageProblem | None:
    """A range from more to less ("2 tablets - 1 at night", "2-1"): its high end, 1, was read; a range, or
    a dose and then another sentence? Refused."""
    if quantity.low is None or quantity.high is None or quantity.low <= quantity.high:
        return None
    sentence = f"'{quantity.text}' in '{text}' runs from more to less: a range, or two doses? Not read"
    return _problem("dose-range-inverted", sentence, (quantity.text,))


HOW_OFTEN_UNSAID = " a day (how often not said)"
"""How the basis of a day's total written with no frequency says so ("8 tablet a day (how often not
said)"), where a dose once a day says "x 1 a day"."""
_A_DAY = re.compile(r"daily|(?:every|each|a|per)\s+day|/\s*day")
"""Words that say "in a day" without saying how often ("8 tablets a day"), as against once a day ("od",
"once a day", "every morning")."""


def _total_only(group: _Group, part: tuple[Decimal, str, Decimal, Decimal | None], form: DoseForm) -> bool:
    """Whether a dose's only schedule is "a day" (or "daily", "each day") and it is more than one unit: a
    day's total, not said to be taken at once ("8 tablets a day" of co-codamol is not 8 tablets at once;
    read as once a day, a taper step would be 7 tablets at once). A mass counts in units by the product's
    strength; unknown, it may be more than one. A liquid's ml are no units to count: any dose of one is
    a day's total ("60mg daily" of Oramorph read once a day would be a step of 54 mg at once)."""
    _, kind, dose, _ = part
    frequencies = [t for t in group.schedule if t.kind == "frequency"]
    if len(group.schedule) != 1 or len(frequencies) != 1 or not _A_DAY.fullmatch(frequencies[0].text):
        return False
    if form.per_unit == "ml":
        return True
    units = in_ingredient(Decimal(1), UNIT, form)
    if kind == UNIT:
        return dose > 1
    return units is None or units[1] != kind or dose > units[0]


def _restatement(group: _Group, dose: Decimal, kind: str, form: DoseForm, text: str) -> DosageProblem | None:
    """A quantity restated in brackets ("10mg (5ml)") must say the same amount of drug."""
    if group.restated is None:
        return None
    other = dose_kind(group.restated.unit, form)
    first = in_ingredient(dose, kind, form)
    second = in_ingredient((group.restated.high or Decimal(0)) * other[1], other[0], form) if other else None
    if first is None or second is None or first != second:
        words = (group.quantity.text, group.restated.text)
        return _problem("dose-inconsistent", f"The dose and its restatement differ in '{text}'", words)
    return None


def _total(
    parts: list[tuple[Decimal, str, Decimal, Decimal | None]],
    caps: list[Token],
    form: DoseForm,
    text: str,
    as_needed: bool,
    phase: list[Token],
    named: bool = False,
) -> DailyAmount | DosageProblem:
    words = tuple(t.text for t in phase if t.kind not in ("filler", "duration"))
    words += tuple(t.text for t in caps)
    dose_unit = label(parts[0][1], form)
    if form.is_patch:
        basis = " + ".join(f"{n(d)} {label(k, form)}" for d, k, _, _ in parts) + " worn at once"
    else:
        basis = " + ".join(
            f"{n(dose)} {label(k, form)} x {n(pd or Decimal(0))} a day" for _, k, dose, pd in parts
        )
    if len({kind for _, kind, _, _ in parts}) > 1:
        converted = [(in_ingredient(d, k, form), dose, pd) for d, k, dose, pd in parts]
        if any(c is None for c, _, _ in converted):
            return _problem("dose-unit-mixed", f"Doses in '{text}' are written in different units")
        parts = [(c[0], c[1], dose, pd) for c, dose, pd in converted if c is not None]
        dose_unit = ""
    kind = parts[0][1]
    if form.is_patch:
        total = sum((d for d, _, _, _ in parts), Decimal(0))
        return DailyAmount(total, kind, as_needed, basis, total, label(kind, form), None, words)
    uncapped = None if parts[0][3] is None else sum((d for d, _, _, _ in parts), Decimal(0))
    capped_total: Decimal | None = uncapped
    held = False
    per_day = parts[0][3] if len(parts) == 1 else None
    for cap in caps:
        capped = _apply_cap(cap, capped_total, kind, parts, form, text)
        if isinstance(capped, DosageProblem):
            return capped
        if capped is not None:
            capped_total, kind = capped
            held = True
            basis = f"{basis}, capped at '{cap.text}'" if uncapped is not None else f"'{cap.text}'"
            if cap.slot == "doses" or cap.unit in ("dose", "doses", "times"):
                per_day = cap.high
    if capped_total is None:
        return _problem("frequency-missing", f"No frequency could be read in '{text}'")
    dose = parts[0][2] if len(parts) == 1 and dose_unit else None
    named_doses: tuple[tuple[Decimal, Decimal], ...] = ()
    if named and dose_unit and not held:
        named_doses = tuple((d, pd) for _, _, d, pd in parts if pd is not None)
    return DailyAmount(
        capped_total,
        kind,
        as_needed,
        basis,
        dose,
        dose_unit,
        per_day,
        words,
        doses=named_doses,
        several=len(parts) > 1,
        ranged=any(_spread(t) for t in phase),
    )


def _spread(token: Token) -> bool:
    """Whether a dose or how often is written as a range ("1-2", "every 4-6 hours", "2-3 times a day") or as
    a most ("up to 2 tablets", "one up to four times a day": from none to that; a pharmacist's review,
    2026-12-07, found "up to" read as a fixed dose, and a taper stepped it as one)."""
    kind, low, high = token.kind, token.low, token.high
    if kind == "filler":
        return bool(re.fullmatch(r"up\s*to", token.text))
    return kind in ("quantity", "interval", "frequency") and None not in (low, high) and low != high


def _may_be_strength(
    limit: Decimal, parts: list[tuple[Decimal, str, Decimal, Decimal | None]], form: DoseForm
) -> bool:
    """Whether a maximum written as a bare number ("max 20 in 24 hours") may be a mass: a whole number of
    the product's own strength, and as a mass more than one dose it caps (of oxycodone 10 mg, 1 tablet
    every 4 hours: 20 tablets, or 20 mg, two tablets?). "Max 8" of co-codamol 30/500 is 8 tablets (8 mg
    is no whole number of them); "1-2 every 4 hours, max 10" of a 10 mg codeine caplet is 10 caplets
    (10 mg is less than the 20 mg dose it caps), and "1 four times a day, max 8" of co-codamol 8/500 is
    8 tablets (8 mg, one dose a day, would leave no four times a day)."""
    if not any(s >= 1 and (limit / s) % 1 == 0 for s in form.unit_strengths):
        return False
    doses = [in_ingredient(dose, kind, form) for _, kind, dose, _ in parts]
    return any(d is None or d[0] < limit for d in doses)


def _apply_cap(
    cap: Token,
    total: Decimal | None,
    kind: str,
    parts: list[tuple[Decimal, str, Decimal, Decimal | None]],
    form: DoseForm,
    text: str,
) -> tuple[Decimal, str] | DosageProblem | None:
    """The daily amount the cap allows when lower than ``total`` (or there is none), else ``None``."""
    limit = cap.high or Decimal(0)
    if not cap.unit and cap.slot != "doses" and _may_be_strength(limit, parts, form):
        sentence = (
            f"The maximum '{cap.text}' has no unit and may be the drug's strength, not a count: not read"
        )
        return _problem("cap-ambiguous", sentence, (cap.text,))
    if cap.slot == "doses" or cap.unit in ("dose", "doses", "times"):
        if len(parts) != 1:
            return _problem(
                "cap-unclear", f"A cap on doses a day over several doses in '{text}'", (cap.text,)
            )
        value, unit = parts[0][2] * limit, parts[0][1]
    else:
        cap_kind = dose_kind(cap.unit, form)
        if cap_kind is None:
            words = (cap.text,)
            return _problem("cap-unit-unknown", f"The maximum's unit does not fit a {form.per_unit}", words)
        value, unit = limit * cap_kind[1], cap_kind[0]
    if total is None:
        return value, unit
    if unit == kind:
        return (value, unit) if value < total else None
    mine, theirs = in_ingredient(total, kind, form), in_ingredient(value, unit, form)
    if mine is None or theirs is None:
        return _problem("cap-unit-unknown", f"The maximum cannot be compared with the dose in '{text}'")
    return theirs if theirs[0] < mine[0] else None


def above_a_time(
    dose: Decimal, kind: str, limits: Sequence[Token], form: DoseForm, text: str
) -> DosageProblem | None:
    """Whether a dose (``kind``: unit, mg or microgram/hour) is above a maximum a time the text writes
    ("do not take more than 2 at any one time", BNF label 29): a maximum a time never raises a figure, but a
    dose above it contradicts it ("3 tablets four times a day" beside it: which?). A maximum that may be a
    mass or has a unit that does not fit the product is not read."""
    for limit in limits:
        most = limit.high or Decimal(0)
        fits = dose_kind(limit.unit, form)
        if fits is None or bare_count_ambiguous(most, limit.unit, form):
            sentence = f"The maximum a time '{limit.text}' in '{text}' is not in units read"
            return _problem("maximum-unreadable", sentence, (limit.text,))
        mine, theirs = (dose, kind), (most * fits[1], fits[0])
        if kind != fits[0]:
            one, other = in_ingredient(dose, kind, form), in_ingredient(*theirs, form)
            if one is None or other is None:
                sentence = f"The maximum a time '{limit.text}' cannot be compared with the dose in '{text}'"
                return _problem("maximum-unreadable", sentence, (limit.text,))
            mine, theirs = one, other
        if mine[0] > theirs[0]:
            sentence = f"The dose in '{text}' is above its maximum a time, '{limit.text}'"
            return _problem("dose-above-maximum", sentence, (limit.text,))
    return None


def writes_a_maximum(text: str, form: DoseForm, kinds: tuple[str, ...] = ("cap",)) -> bool:
    """Whether ``text`` writes a maximum a day ("max 8 in 24 hours", "do not take more than 8 in 24
    hours"), read or not; with ``kinds`` ("cap", "dose-cap"), or a maximum a time ("not more than 2 at any
    one time")."""
    restated = strength_restated(normalise(text), form, text)
    return not isinstance(restated, DosageProblem) and any(t.kind in kinds for t in tokens(restated))


@dataclass(frozen=True, slots=True)
class WrittenPart:
    """What a text that says only part of a dosage says ("two tablets", "twice a day", "max 8 in 24
    hours" beside structured fields), for those fields to be checked against: the most at one
    administration as (amount, kind), administrations a day, its caps, and whether when required."""

    dose: tuple[Decimal, str] | None
    per_day: Decimal | None
    caps: tuple[Token, ...]
    as_needed: bool
    a_time: tuple[Token, ...] = ()
    """Its maxima a time ("do not take more than 2 at any one time"), for the dose beside it to be held to."""


def read_written_part(text: str, form: DoseForm) -> WrittenPart | DosageProblem:
    """What ``text`` says when :func:`read_dosage_text` finds only part of a dosage in it (no dose, or no
    frequency). A part that is not one dose and one schedule (two doses, a loading dose, phases) is a
    problem (``dose-text-partial``): it is not compared, so the structured fields are not taken alone."""
    restated = strength_restated(normalise(text), form, text)
    if isinstance(restated, DosageProblem):
        return restated
    found = tokens(restated)
    partial = _problem(
        "dose-text-partial",
        f"'{text}' says part of a dosage in a way not compared with its structured fields",
    )
    if any(t.kind in ("unread", "then", "loading", "total") for t in found):
        return partial
    if any(t.kind == "weekdays" for t in found) and not form.is_patch:
        return partial  # a patch's days of change leave the patches worn alone, as in read_dosage_text
    few_days = _every_few_days(found, form, text)
    if few_days is not None:
        return few_days
    groups = _groups([t for t in found if t.kind not in ("cap", "dose-cap")], text)
    if isinstance(groups, DosageProblem):
        return groups
    if len(groups) > 1:
        return partial
    schedule = groups[0].schedule if groups else [t for t in found if t.kind in _SCHEDULE]
    per_day = _per_day(schedule, text)
    if isinstance(per_day, DosageProblem):
        return per_day
    dose: tuple[Decimal, str] | None = None
    if groups:
        quantity = groups[0].quantity
        kind = dose_kind(quantity.unit, form) if quantity.unit != "mixed" else None
        if kind is None or quantity.high is None:
            return partial
        inverted = _inverted(quantity, text)
        if inverted is not None:
            return inverted
        dose = (quantity.high * kind[1], kind[0])
        differs = _restatement(groups[0], dose[0], dose[1], form, text)  # "1 tablet (30mg)"
        if differs is not None:
            return differs
    caps = tuple(t for t in found if t.kind == "cap")
    a_time = tuple(t for t in found if t.kind == "dose-cap")
    if dose is not None and (above := above_a_time(*dose, a_time, form, text)) is not None:
        return above
    return WrittenPart(dose, per_day, caps, any(t.kind == "as-needed" for t in found), a_time)


def with_written_caps(
    amount: DailyAmount, dose: tuple[Decimal, str] | None, caps: tuple[Token, ...], form: DoseForm, text: str
) -> DailyAmount | DosageProblem:
    """``amount`` (read from structured fields) held to the caps its text writes ("max 6 in 24 hours"),
    as :func:`read_dosage_text` holds its own dose to them; ``dose`` is the structured dose, which a cap
    on doses a day counts. A patch's caps are not applied, as in the text reader (patches worn at once)."""
    if form.is_patch or not caps:
        return amount
    total, kind, basis, per_day = amount.quantity, amount.unit, amount.basis, amount.per_day
    for cap in caps:
        on_doses = cap.slot == "doses" or cap.unit in ("dose", "doses", "times")
        if on_doses and (dose is None or dose[1] != kind):
            sentence = f"A cap on doses a day in '{text}' beside a structured dose it cannot count"
            return _problem("cap-unclear", sentence, (cap.text,))
        parts = [(total, kind, dose[0] if dose else Decimal(0), per_day)]
        capped = _apply_cap(cap, total, kind, parts, form, text)
        if isinstance(capped, DosageProblem):
            return capped
        if capped is not None:
            total, kind = capped
            basis = f"{basis}, capped at '{cap.text}'"
            per_day = cap.high if on_doses else None
    if basis == amount.basis:
        return amount
    words = amount.words + tuple(t.text for t in caps)
    return DailyAmount(
        total,
        kind,
        amount.as_needed,
        basis,
        amount.dose,
        amount.dose_unit,
        per_day,
        words,
        amount.loading,
        total_only=amount.total_only,
    )
