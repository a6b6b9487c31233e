"""Doses above the licensed maximum: tramadol, codeine, dihydrocodeine and paracetamol in combinations.

Pure. Maxima in ``shared/terminology/data/licensed-daily-maxima.csv`` (BNF). An ingredient's daily total is
summed over every computable medicine containing it; paracetamol is counted from the partner strength in
the product's name (co-codamol 30mg/500mg: 500 mg a tablet) times the units taken a day, plus paracetamol
prescribed on its own alongside a combination (``OmeResult.paracetamol``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from shared.medicines.ome import OmeResult
from shared.terminology import DmdProduct, read_data_file

__all__ = ["LicensedExcess", "above_licensed_maximum", "licensed_maxima", "paracetamol_mg_per_unit"]

_PARACETAMOL = (
    re.compile(r"paracetamol\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>mg|g)\b", re.IGNORECASE),
    re.compile(
        r"co-(?:codamol|dydramol)\s*[\d.]+\s*mg\s*/\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>mg|g)\b", re.I
    ),
)


@dataclass(frozen=True, slots=True)
class LicensedExcess:
    """``ingredient`` taken at ``mg_per_day`` over its licensed ``maximum`` (mg/day), by ``evidence``."""

    ingredient: str
    mg_per_day: Decimal
    maximum: Decimal
    evidence: tuple[str, ...]
    reference: str


@cache
def licensed_maxima() -> Mapping[str, tuple[Decimal, str]]:
    """Ingredient -> (maximum mg/day, its BNF reference)."""
    rows = read_data_file("licensed-daily-maxima.csv").rows
    return {r["ingredient"]: (Decimal(r["max_mg_per_day"]), r["reference"]) for r in rows}


def paracetamol_mg_per_unit(product: DmdProduct) -> Decimal | None:
    """mg of paracetamol in one unit of a compound product, from its name; ``None`` if it names none."""
    if "paracetamol" not in product.with_ingredients:
        return None
    for pattern in _PARACETAMOL:
        found = pattern.search(product.name)
        if found:
            value = Decimal(found["value"]) * (1000 if found["unit"].lower() == "g" else 1)
            return value / product.per_quantity
    return None


def above_licensed_maximum(result: OmeResult) -> tuple[LicensedExcess, ...]:
    """Every ingredient whose daily total goes over its licensed maximum."""
    totals: dict[str, Decimal] = {}
    evidence: dict[str, list[str]] = {}
    for med in result.medications:
        product = med.identified.product if med.identified else None
        if not med.computable or product is None or med.daily_dose is None or product.is_patch:
            continue
        amounts = {product.ingredient: med.daily_dose}
        paracetamol = paracetamol_mg_per_unit(product)
        if paracetamol is not None:
            amounts["paracetamol"] = med.daily_dose / product.strength_per_unit * paracetamol
        for ingredient, amount in amounts.items():
            totals[ingredient] = totals.get(ingredient, Decimal(0)) + amount
            evidence.setdefault(ingredient, []).append(med.reference)
    if "paracetamol" in totals:  # paracetamol taken on its own counts with a combination's
        for reference, amount in result.paracetamol:
            totals["paracetamol"] += amount
            evidence["paracetamol"].append(reference)
    maxima = licensed_maxima()
    excesses = []
    for ingredient, total in sorted(totals.items()):
        if ingredient in maxima and total > maxima[ingredient][0]:
            maximum, reference = maxima[ingredient]
            excesses.append(
                LicensedExcess(ingredient, total.normalize(), maximum, tuple(evidence[ingredient]), reference)
            )
    return tuple(excesses)
