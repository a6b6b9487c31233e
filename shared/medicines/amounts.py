"""What a dose reader returns: a daily amount with how it was read, or a problem naming what was not read.

Pure. Units of a daily amount: ``unit`` (the product's own units: tablets, capsules, patches worn, ml of a
liquid, sachets), ``mg`` (of the ingredient) or ``microgram/hour`` (a patch's delivery rate worn at once).
A dose written as a mass or a rate is a quantity of drug, converted with the product's strength: never a
count of tablets or patches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "MG",
    "RATE",
    "UNIT",
    "DailyAmount",
    "DosageProblem",
    "DoseForm",
    "dose_kind",
    "in_ingredient",
    "n",
    "schedule",
]

UNIT = "unit"
MG = "mg"
RATE = "microgram/hour"
_SOLID = ("tablet", "capsule", "caplet", "tab", "cap")


@dataclass(frozen=True, slots=True)
class DoseForm:
    """What the reader needs of a product: its unit, the ingredient in one unit, and whether it is a patch.

    ``strength_per_unit`` is mg per tablet, capsule, sachet or ml, or microgram/hour per patch (``None``
    when unknown: doses in mass units then cannot be converted to units and back).
    """

    per_unit: str
    strength_per_unit: Decimal | None
    is_patch: bool
    strengths: frozenset[Decimal] = frozenset()
    """The numbers the product's strengths are written with (in its name, its partners' too, and the
    strengths its family is made in): a bare number equal to one ("10 twice a day" of oxycodone 10 mg,
    "50 every 72 hours" of a fentanyl patch) may be a mass or a rate, not a count of units."""
    unit_strengths: frozenset[Decimal] = frozenset()
    """The product's own strengths per unit as written (30 and 500 for co-codamol 30mg/500mg, 400 for a
    400 microgram tablet, 25 for a 25 microgram/hour patch)."""


@dataclass(frozen=True, slots=True)
class DailyAmount:
    """At most ``quantity`` a day in ``unit`` (module docstring), and how it was read.

    ``dose`` ``dose_unit`` is the most taken at one administration and ``per_day`` the most administrations
    a day (``None`` for a patch, worn whatever its change interval, or for a prescribed daily maximum read on
    its own). ``words`` are the words relied on; ``loading`` notes a loading dose left out of the daily total.
    """

    quantity: Decimal
    unit: str
    as_needed: bool
    basis: str
    dose: Decimal | None = None
    dose_unit: str = ""
    per_day: Decimal | None = None
    words: tuple[str, ...] = ()
    loading: str = ""
    doses: tuple[tuple[Decimal, Decimal], ...] = ()
    """For a reading of several doses at named times alone ("1 in the morning and 1 at night"), each
    one's (dose, times a day), the doses in ``dose_unit``; empty otherwise, or when a maximum held the
    total below them."""
    several: bool = False
    """Read from a text of several doses taken in a day ("1 in the morning and 2 at night", "1 bd and 1
    nocte"), not one dose nor patches worn together."""
    ranged: bool = False
    """Read from a range of doses or of how often ("1-2 tablets", "every 4-6 hours", a ``doseRange``, a
    ``frequencyMax``), counted at its most: the most that may be taken, not what is taken."""
    total_only: bool = False
    """Read from words that give a day's total of more than one unit ("8 tablets a day", "60 mg daily" of
    a 30 mg tablet, "TWO to be taken each day"): the figure stands, but how many administrations make it
    up is not said; once a day is one reading of the words, not the only one (:func:`schedule` still
    gives 1, for the dose reader's own checks; a taper step is not written from it)."""


def schedule(amount: DailyAmount) -> tuple[Decimal | None, Decimal | None]:
    """A reading's dose and times a day as one schedule: its own, or its several doses' when they are all
    the same dose ("1 in the morning and 1 at night": 1, twice a day); else the times a day are None."""
    if amount.per_day is not None or not amount.doses:
        return amount.dose, amount.per_day
    if len({dose for dose, _ in amount.doses}) > 1:
        return None, None
    return amount.doses[0][0], sum((times for _, times in amount.doses), Decimal(0))


@dataclass(frozen=True, slots=True)
class DosageProblem:
    """Why no daily amount could be read: a ``code``, a sentence and the ``words`` not read."""

    code: str
    text: str
    words: tuple[str, ...] = ()


def _word(unit: str) -> str:
    word = unit.strip().strip("{}").lower().replace("µ", "u").replace("μ", "u")
    word = re.sub(r"\s*\((?:e?s)\)$", "", word)  # "tablet(s)", "patch(es)", as GP systems print a unit
    word = re.sub(r"\b(?:micrograms?|mcg|ug)\b", "microgram", word)
    word = re.sub(r"\s*(?:/|per|an|a)\s*(?:hours?|hrs?|h)$", "/hour", word)
    return re.sub(r"(?<=patch)es$|(?<=[^s])s$", "", word)


def dose_kind(unit: str, form: DoseForm) -> tuple[str, Decimal] | None:
    """(kind, multiplier) for a dose written in ``unit`` of this product, or ``None`` when it does not fit.

    ``kind`` is :data:`UNIT`, :data:`MG` or :data:`RATE`; the multiplier turns the written number into that
    kind (1 g = 1000 mg, 1 microgram = 0.001 mg). A bare number counts units of a solid or a patch, but not
    of a liquid (ml or mg? it cannot tell).
    """
    word = _word(unit)
    if word in ("g", "gram"):
        return (MG, Decimal(1000)) if not form.is_patch else None
    if word in ("mg", "milligram"):
        return (MG, Decimal(1)) if not form.is_patch else None
    if word == "microgram":
        return (MG, Decimal("0.001")) if not form.is_patch else None
    if word == "microgram/hour":
        return (RATE, Decimal(1)) if form.is_patch else None
    if word in ("ml", "millilitre", "milliliter", "ml/dose"):
        return (UNIT, Decimal(1)) if form.per_unit == "ml" else None
    if word in ("", "unit", "each", "1", "{unit}"):
        return (UNIT, Decimal(1)) if form.per_unit != "ml" else None
    if word == form.per_unit or (form.per_unit in _SOLID and word in _SOLID):
        return UNIT, Decimal(1)
    if form.per_unit == "dose" and word in ("lozenge", "film", "dose", "spray"):
        return UNIT, Decimal(1)
    return None


MOST_PATCHES_AT_ONCE = Decimal(4)
"""More patches than this worn at once, written as a bare number, is read as no count (more likely a rate)."""
MOST_UNITS_A_DOSE = Decimal(10)
"""A bare number of tablets or capsules a dose from this up is read as no count (more likely a mass)."""


def bare_count_ambiguous(value: Decimal, unit: str, form: DoseForm) -> bool:
    """Whether a dose written as a bare number may be a mass or a rate rather than a count of units.

    It may when, read as the drug, it would be a whole number of the product's units (or half a tablet):
    "10 twice a day" of a 10 mg tablet (ten tablets or one?), "200 twice a day" of a 400 microgram tablet;
    when it is no plausible count: ten or more tablets or capsules a dose ("25 every 4 hours" of codeine
    30 mg), a fraction of a capsule or past two and a half tablets ("7.5 every 4 hours"), more than four
    patches at once ("10 every 72 hours" of a fentanyl patch); or, for a patch, when it
    is a strength the patch is made in. "2 at night" of a 4 mg capsule is two capsules (2 mg would be half a
    capsule), and one unit is one unit either way.
    """
    if unit.strip() or value == 1:
        return False
    if form.is_patch:
        return value > MOST_PATCHES_AT_ONCE or value in form.strengths
    if value >= MOST_UNITS_A_DOSE:
        return True
    if value % 1 and (form.per_unit != "tablet" or (value * 2) % 1 or value > 3):
        return True  # "7.5", or a part of a capsule: no count of units (halves of tablets up to 2.5 are)
    step = Decimal("0.5") if form.per_unit == "tablet" else Decimal(1)
    return any(value / s >= step and (value / s / step) % 1 == 0 for s in form.unit_strengths if s >= 1)


def in_ingredient(quantity: Decimal, kind: str, form: DoseForm) -> tuple[Decimal, str] | None:
    """``quantity`` of ``kind`` as ingredient (mg, or microgram/hour of a patch), if the strength is known."""
    if kind != UNIT:
        return quantity, kind
    if form.strength_per_unit is None:
        return None
    return quantity * form.strength_per_unit, RATE if form.is_patch else MG


def n(value: Decimal) -> str:
    """A number as a pharmacist writes it: no trailing zeros, at most 3 decimals."""
    return format(value.quantize(Decimal("0.001")).normalize(), "f")
