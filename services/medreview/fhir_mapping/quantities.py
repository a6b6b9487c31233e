"""FHIR numbers and Quantities from exact Decimals (JSON has no decimal type: integers stay integers)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.medreview.fhir_mapping.codes import UCUM

__all__ = ["UNIT_CODES", "daily_ome", "decimal_of", "instant", "number", "quantity"]

# Units of the pure modules to UCUM: (human unit, UCUM code).
UNIT_CODES = {
    "mg/day": ("mg/d", "mg/d"),
    "microgram/hour": ("microgram/hour", "ug/h"),
    "mg": ("mg", "mg"),
    "ml": ("ml", "mL"),
}
# The product's own units are UCUM annotations: {tablet}, {capsule}, {patch}...
COUNT_UNITS = frozenset({"tablet", "capsule", "patch", "sachet", "dose"})


def number(value: Decimal) -> int | float:
    """A JSON number for ``value``: an int when whole, else the shortest float."""
    normal = value.normalize()
    return int(normal) if normal == normal.to_integral_value() else float(normal)


def decimal_of(value: Any) -> Decimal:
    """A Decimal from a JSON number (via its text, so 0.1 stays 0.1)."""
    return Decimal(str(value))


def quantity(value: Decimal, unit: str, *, lower_bound: bool = False) -> dict[str, Any]:
    """A UCUM Quantity; ``lower_bound`` marks a total that is at least ``value`` (comparator ``>=``)."""
    label, code = UNIT_CODES.get(unit, (unit, f"{{{unit}}}" if unit in COUNT_UNITS else unit))
    found: dict[str, Any] = {"value": number(value)}
    if lower_bound:
        found["comparator"] = ">="
    found |= {"unit": label, "system": UCUM, "code": code}
    return found


def daily_ome(value: Decimal, *, lower_bound: bool = False) -> dict[str, Any]:
    """mg of oral morphine a day as a UCUM ``mg/d`` Quantity."""
    return quantity(value, "mg/day", lower_bound=lower_bound)


def instant(moment: datetime | date) -> str:
    """A FHIR dateTime (UTC, seconds) or date."""
    if isinstance(moment, datetime):
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return moment.isoformat()
