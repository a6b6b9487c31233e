"""A taper step as orders a GP could sign as written. Pure.

A step's dose (a day's total of one opioid) becomes one order per product strength needed, each in the form's
own terms: tablets, capsules and patches whole (a modified-release tablet is never divided), a liquid in ml
(measured to 0.5 ml), the dose per administration at the step's frequency (twice a day stays twice a day:
the day's dose is given as that many equal doses; "when required" is written as "up to" that many a day,
with the most a day), a quantity covering the step's interval (for "when required", its most), and for a
Schedule 2 or 3 controlled drug the dose stated and the total quantity in words and figures (never "as
directed"). Combination products (co-codamol, co-dydramol) keep the one strength the patient takes: their
partner (paracetamol) never rises. A dose that cannot be written so is refused with the reason, never
rounded here.

Sources: controlled drug schedules from the Misuse of Drugs Regulations 2001, Schedules 2 to 5, as the BNF's
"Controlled drugs and drug dependence" guidance lists them (morphine oral solutions of not more than 0.2%,
i.e. 2 mg/ml, are Schedule 5; codeine and dihydrocodeine tablets are Schedule 5); the prescription
requirements for Schedule 2 and 3 drugs (dose, form, strength, total quantity in words and figures) from
regulation 15 of the same Regulations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from services.medreview.domain.strengths import compose_dose
from shared.terminology import DmdProduct

__all__ = [
    "FREQUENCY_WORDS",
    "LIQUID_STEP_ML",
    "Order",
    "PrescribingProblem",
    "controlled_schedule",
    "in_words",
    "issuable_per_dose",
    "mass_words",
    "step_orders",
]

LIQUID_STEP_ML = Decimal("0.5")
"""A liquid dose is measured to 0.5 ml (an oral syringe or a 2.5 ml / 5 ml spoon measures it)."""

SCHEDULE_2 = frozenset(
    {
        "morphine",
        "oxycodone",
        "fentanyl",
        "methadone",
        "hydromorphone",
        "tapentadol",
        "diamorphine",
        "pethidine",
    }
)
SCHEDULE_3 = frozenset({"buprenorphine", "tramadol", "pentazocine", "meptazinol"})
_MORPHINE_SCHEDULE_5_MG_PER_ML = Decimal(2)  # 0.2%

FREQUENCY_WORDS = {
    1: "once a day",
    2: "twice a day",
    3: "three times a day",
    4: "four times a day",
    5: "five times a day",
    6: "six times a day",
}
_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def in_words(value: Decimal) -> str:
    """A quantity in words, as a controlled drug prescription writes it: 56 -> "fifty-six", 1120 -> "one
    thousand one hundred and twenty", 17.5 -> "seventeen point five"."""
    value = value.normalize()
    if value < 0 or value >= 1_000_000:
        raise ValueError("quantities from 0 to 999999 only")
    whole, _, fraction = format(value, "f").partition(".")
    words = _whole_words(int(whole))
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return words


def _whole_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else "")
    if n < 1000:
        rest = n % 100
        return f"{_ONES[n // 100]} hundred" + (f" and {_whole_words(rest)}" if rest else "")
    rest = n % 1000
    joiner = " and " if 0 < rest < 100 else " "
    return f"{_whole_words(n // 1000)} thousand" + (f"{joiner}{_whole_words(rest)}" if rest else "")


def controlled_schedule(product: DmdProduct) -> int | None:
    """The Misuse of Drugs Regulations schedule (2 or 3) whose prescription requirements apply, else None."""
    if product.ingredient in SCHEDULE_2:
        weak = product.ingredient == "morphine" and product.per_unit == "ml"
        if weak and product.strength_per_unit <= _MORPHINE_SCHEDULE_5_MG_PER_ML:
            return None
        return 2
    return 3 if product.ingredient in SCHEDULE_3 else None


@dataclass(frozen=True, slots=True)
class PrescribingProblem:
    """Why a dose cannot be written as orders a prescriber could sign."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Order:
    """One product to prescribe for a step: ``per_dose`` units (tablets, capsules, patches; ml for liquids)
    each administration, ``doses_per_day`` administrations a day (patches: one worn, changed every
    ``product.patch_change_hours``), ``quantity`` units (or ml) for ``days`` days."""

    product: DmdProduct
    per_dose: Decimal
    doses_per_day: int
    days: int
    quantity: Decimal
    worn_with: tuple[DmdProduct, ...] = ()
    as_needed: bool = False
    """Taken "when required": ``doses_per_day`` is the most a day, and ``quantity`` covers that most."""

    @property
    def unit(self) -> str:
        return self.product.per_unit

    @property
    def schedule(self) -> int | None:
        return controlled_schedule(self.product)

    @property
    def controlled(self) -> bool:
        return self.schedule in (2, 3)

    @property
    def mg_per_dose(self) -> Decimal:
        """Ingredient per administration (microgram/hour for patches)."""
        return self.per_dose * self.product.strength_per_unit

    def _strength(self) -> str:
        per = "" if self.product.per_unit != "ml" else f" in {_n(self.product.per_quantity)} ml"
        if self.product.is_patch:
            return f"{_n(self.product.strength)} micrograms/hour{per}"
        return f"{mass_words(self.product.strength, adjective=True)}{per}"

    @property
    def instruction(self) -> str:
        """The dosage as written on the prescription: dose per administration, strength and frequency."""
        if self.product.is_patch:
            together = (
                " together with the "
                + " and ".join(f"{_n(p.strength)} micrograms/hour" for p in self.worn_with)
                + " patch"
                if self.worn_with
                else ""
            )
            every = (
                f"every {self.product.patch_change_hours} hours" if self.product.patch_change_hours else "as"
            )
            count = in_words(self.per_dose)
            return (
                f"Apply {count} {self._strength()} patch{'es' if self.per_dose != 1 else ''}{together}, "
                f"replacing {'them' if self.per_dose != 1 else 'it'} {every}"
            )
        often = FREQUENCY_WORDS[self.doses_per_day]
        if self.as_needed:
            often = f"up to {often} when required"
        daily = self.mg_per_dose * self.doses_per_day
        most = "at most " if self.as_needed else ""
        if self.product.per_unit == "ml":
            dose = f"{_n(self.per_dose)} ml ({mass_words(self.mg_per_dose)})"
            total = f" ({most}{mass_words(daily)} a day)" if self.as_needed else ""
            return f"Take {dose} of the {self._strength()} {self.product.form} {often}{total}"
        form = self.product.form if self.product.form in ("tablet", "capsule") else self.product.per_unit
        release = "modified-release " if self.product.modified_release else ""
        plural = "s" if self.per_dose != 1 else ""
        return (
            f"Take {in_words(self.per_dose)} {self._strength()} {release}{form}{plural} {often} "
            f"({mass_words(self.mg_per_dose)} a dose, {most}{mass_words(daily)} a day)"
        )

    @property
    def supply(self) -> str:
        """The total quantity, in words and figures: "56 (fifty-six) tablets"."""
        noun = {"ml": "ml", "patch": "patches"}.get(self.unit, f"{self.unit}s")
        if self.unit not in ("ml",) and self.quantity == 1:
            noun = self.unit
        return f"{_n(self.quantity)} ({in_words(self.quantity)}) {noun}"

    @property
    def text(self) -> str:
        return f"{self.product.name}: {self.instruction}. Supply {self.supply} ({self.days} days)."


def mass_words(value: Decimal, adjective: bool = False) -> str:
    """A mass as a prescriber writes it: below 1 mg in micrograms (BNF, prescription writing: "200
    micrograms", never "0.2 mg", a tenfold error away from the 2 mg tablet); ``adjective`` before a unit
    ("a 200 microgram tablet")."""
    if 0 < value < 1:
        return f"{_n(value * 1000)} microgram{'' if adjective else 's'}"
    return f"{_n(value)} mg"


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f")


def issuable_per_dose(product: DmdProduct, family: Sequence[DmdProduct]) -> tuple[Decimal, ...]:
    """The unit strengths one administration can be made of: whole units of the family's strengths; a
    combination product only its own strength; a liquid in 0.5 ml measures of its own strength."""
    if product.per_unit == "ml":
        return (product.strength_per_unit * LIQUID_STEP_ML,)
    if product.with_ingredients:
        return (product.strength_per_unit,)
    return tuple(sorted({p.strength_per_unit for p in family if p.family == product.family}))


def step_orders(
    daily_dose: Decimal,
    product: DmdProduct,
    family: Sequence[DmdProduct],
    *,
    doses_per_day: int,
    days: int,
    as_needed: bool = False,
) -> tuple[Order, ...] | PrescribingProblem:
    """The orders for one opioid's dose after a step (``daily_dose``: mg a day, or microgram/hour worn for
    patches), at ``doses_per_day`` equal administrations (``as_needed``: at most that many, when required),
    for ``days`` days. ``()`` for a stop."""
    if days < 1:
        return PrescribingProblem("no-interval", "A step needs an interval of at least one day to supply")
    if daily_dose < 0:
        return PrescribingProblem("negative-dose", "A dose cannot be negative")
    if daily_dose == 0:
        return ()
    members = [p for p in family if p.family == product.family] or [product]
    if product.is_patch:
        return _patch_orders(daily_dose, product, members, days)
    if doses_per_day not in FREQUENCY_WORDS:
        return PrescribingProblem("frequency", f"{doses_per_day} doses a day is not a frequency written here")
    per_dose = daily_dose / doses_per_day
    strengths = issuable_per_dose(product, members)
    made = compose_dose(per_dose, strengths)
    if made is None:
        return PrescribingProblem(
            "not-issuable",
            f"{_n(daily_dose)} mg a day is not {doses_per_day} equal doses of "
            + (f"0.5 ml measures of {product.name}" if product.per_unit == "ml" else "whole units of ")
            + ("" if product.per_unit == "ml" else ", ".join(f"{_n(s)} mg" for s in strengths)),
        )
    if product.per_unit == "ml":
        ml = per_dose / product.strength_per_unit
        return (Order(product, ml, doses_per_day, days, ml * doses_per_day * days, as_needed=as_needed),)
    by_strength = {p.strength_per_unit: p for p in members} | {product.strength_per_unit: product}
    orders = []
    for strength, count in made:
        chosen = by_strength.get(strength, product)
        count_d = Decimal(count)
        quantity = count_d * doses_per_day * days
        orders.append(Order(chosen, count_d, doses_per_day, days, quantity, as_needed=as_needed))
    return tuple(orders)


def _patch_orders(
    daily_dose: Decimal, product: DmdProduct, members: Sequence[DmdProduct], days: int
) -> tuple[Order, ...] | PrescribingProblem:
    hours = product.patch_change_hours
    if not hours:
        return PrescribingProblem("patch-interval", f"{product.name} has no known change interval")
    made = compose_dose(daily_dose, [p.strength_per_unit for p in members])
    if made is None:
        return PrescribingProblem(
            "not-issuable",
            f"{_n(daily_dose)} micrograms/hour is not made of whole {product.ingredient} patches",
        )
    changes = (Decimal(days * 24) / hours).to_integral_value(rounding=ROUND_CEILING)
    by_strength = {p.strength_per_unit: p for p in members} | {product.strength_per_unit: product}
    used = [by_strength[s] for s, _ in made]
    return tuple(
        Order(
            by_strength[strength],
            Decimal(count),
            1,
            days,
            Decimal(count) * changes,
            tuple(p for p in used if p is not by_strength[strength]),
        )
        for strength, count in made
    )
