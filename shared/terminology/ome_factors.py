"""Oral morphine equivalent (OME) factor tables, one versioned data file per source.

A factor converts a daily amount of one opioid by one route into mg of oral morphine a day:
``mg/day`` factors are per mg of the ingredient taken a day; ``microgram/hour`` factors are per
microgram/hour of patch strength. A row without a factor is an explicit "not computable" with its reason
(methadone).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from shared.terminology.datafiles import read_data_file

__all__ = [
    "DEFAULT_OME_FACTOR_TABLE",
    "OME_FACTOR_TABLES",
    "OmeFactor",
    "OmeFactorTable",
    "load_ome_factor_table",
]

DEFAULT_OME_FACTOR_TABLE = "uk-opioids-aware"
OME_FACTOR_TABLES: Mapping[str, str] = {
    "uk-opioids-aware": "ome-factors-uk-opioids-aware.csv",
    "cdc-2022": "ome-factors-cdc-2022.csv",
}


@dataclass(frozen=True, slots=True)
class OmeFactor:
    """One ingredient by one route: ``factor`` mg OME/day per ``dose_unit``, or ``None`` with ``reason``."""

    ingredient: str
    route: str
    dose_unit: str
    factor: Decimal | None
    reason: str
    reference: str


@dataclass(frozen=True, slots=True)
class OmeFactorTable:
    """A named, versioned factor table; ``source`` says where its figures come from."""

    table_id: str
    version: str
    title: str
    source: str
    factors: Mapping[tuple[str, str], OmeFactor]

    def factor_for(self, ingredient: str, route: str) -> OmeFactor | None:
        """The row for ``ingredient`` by ``route``, or ``None`` when the table has no such row."""
        return self.factors.get((ingredient.lower(), route.lower()))


@cache
def load_ome_factor_table(table_id: str = DEFAULT_OME_FACTOR_TABLE) -> OmeFactorTable:
    """Load a factor table by id (``uk-opioids-aware`` or ``cdc-2022``); raises ``KeyError`` for others."""
    data = read_data_file(OME_FACTOR_TABLES[table_id])
    factors: dict[tuple[str, str], OmeFactor] = {}
    for row in data.rows:
        factor = OmeFactor(
            ingredient=row["ingredient"].lower(),
            route=row["route"].lower(),
            dose_unit=row["dose_unit"],
            factor=Decimal(row["factor"]) if row["factor"] else None,
            reason=row["reason"],
            reference=row["reference"],
        )
        factors[(factor.ingredient, factor.route)] = factor
    return OmeFactorTable(
        table_id=data.meta.get("table", table_id),
        version=data.meta.get("version", ""),
        title=data.meta.get("title", ""),
        source=data.meta.get("source", ""),
        factors=factors,
    )
