"""Paracetamol taken on its own, for the licensed maximum of paracetamol taken with a combination.

Pure. A patient on co-codamol 30mg/500mg 2 qds (4 g of paracetamol a day) who is also prescribed paracetamol
500mg tablets 2 qds takes 8 g a day: the BNF maximum (4 g a day) is counted over every medicine containing
paracetamol, so a plain paracetamol product's daily amount is read here (its name's strength, its dosage by
the one dose reader). A product whose strength or dosage cannot be read adds nothing (no flag is guessed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from shared.medicines.amounts import MG, DailyAmount, DoseForm
from shared.medicines.dosage import max_daily_amount

__all__ = ["plain_paracetamol_mg_per_day"]

_NAME = re.compile(
    r"^\s*paracetamol\s+(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>mg|g)\s*(?P<liquid>/\s*(?P<per>\d+(?:\.\d+)?)?\s*ml)?"
    r"\s+(?P<rest>.*)$",
    re.IGNORECASE,
)
_SOLID = re.compile(r"\b(?:tablets?|caplets?|capsules?)\b", re.IGNORECASE)
_LIQUID = re.compile(r"\b(?:oral\s+(?:suspension|solution)|syrup|liquid)\b", re.IGNORECASE)


def plain_paracetamol_mg_per_day(name: str, dosages: Sequence[Mapping[str, Any]]) -> Decimal | None:
    """mg of paracetamol a day of a product that is paracetamol alone ("Paracetamol 500mg tablets"), or None.

    Only oral tablets, caplets, capsules and oral liquids named with their strength are read.
    """
    found = _NAME.match(name)
    if found is None or re.search(r"\band\b|/\s*\d+(?:\.\d+)?\s*(?:mg|g)\b|\bwith\b", found["rest"]):
        return None
    value = Decimal(found["value"]) * (1000 if found["unit"].lower() == "g" else 1)
    if found["liquid"]:
        if not _LIQUID.search(found["rest"]):
            return None
        form = DoseForm("ml", value / Decimal(found["per"] or 1), False)
    elif _SOLID.search(found["rest"]):
        unit = "tablet" if "cap" not in found["rest"].lower() else "capsule"
        form = DoseForm(
            unit, value, False, frozenset({value}), frozenset({value})
        )  # "500 qds": not 500 tablets
    else:
        return None
    amount = max_daily_amount(dosages, form)
    if not isinstance(amount, DailyAmount):
        return None
    if amount.unit == MG:
        return amount.quantity
    assert form.strength_per_unit is not None
    return amount.quantity * form.strength_per_unit
