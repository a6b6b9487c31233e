"""Doses made of unit strengths that exist: which daily doses tablets, capsules, ml or patches can make.

Pure: exact sums of strengths by dynamic programming over scaled integers (no floating point).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

__all__ = ["Compositions", "Schedules", "compose_dose"]


def compose_dose(dose: Decimal, strengths: Sequence[Decimal]) -> tuple[tuple[Decimal, int], ...] | None:
    """The fewest units of ``strengths`` adding up exactly to ``dose`` (strongest first), or ``None``."""
    return Compositions(strengths, dose).units(dose)


class Compositions:
    """Exact sums of unit strengths up to a ceiling, by dynamic programming over scaled integers."""

    def __init__(self, strengths: Sequence[Decimal], ceiling: Decimal, max_units: int | None = None) -> None:
        places = min(3, max([0, *(-int(s.normalize().as_tuple().exponent) for s in strengths)]))
        self.scale = Decimal(10) ** places
        coins = sorted({int(s * self.scale) for s in strengths if s > 0})
        ceiling_value = int((ceiling * self.scale).to_integral_value(rounding=ROUND_FLOOR))
        self.fewest: list[int | None] = [0] + [None] * max(0, ceiling_value)
        self.last = [0] * len(self.fewest)
        for value in range(1, len(self.fewest)):
            options = [(n + 1, c) for c in coins if c <= value and (n := self.fewest[value - c]) is not None]
            if options:
                self.fewest[value], self.last[value] = min(options)
        # A day's dose may take at most ``max_units`` tablets, capsules, ml or patches (``None``: no limit).
        self.max_units = len(self.fewest) if max_units is None else max_units

    def _top(self, dose: Decimal) -> int:
        """The largest scaled value strictly below ``dose``."""
        return int((dose * self.scale).to_integral_value(rounding=ROUND_CEILING)) - 1

    def below(self, dose: Decimal) -> list[Decimal]:
        """Every composable dose below ``dose``, largest first (0 included)."""
        top = min(self._top(dose), len(self.fewest) - 1)
        fits = [v for v in range(top, -1, -1) if (n := self.fewest[v]) is not None and n <= self.max_units]
        return [Decimal(v) / self.scale for v in fits]

    def units(self, dose: Decimal) -> tuple[tuple[Decimal, int], ...] | None:
        """The fewest units making ``dose``, strongest first; ``None`` if no combination does."""
        value = int(dose * self.scale)
        if Decimal(value) != dose * self.scale or value >= len(self.fewest) or self.fewest[value] is None:
            return None
        counts: dict[int, int] = {}
        while value:
            counts[self.last[value]] = counts.get(self.last[value], 0) + 1
            value -= self.last[value]
        return tuple((Decimal(c) / self.scale, n) for c, n in sorted(counts.items(), reverse=True))


class Schedules:
    """Daily doses given as ``k`` equal administrations a day (``k`` from 1 to ``most_per_day``), each a
    composition of ``strengths`` of at most ``max_units`` units: an immediate-release dose steps down by fewer
    units a dose or fewer doses a day (one capsule four times a day, then three times a day). ``ceiling`` is
    the most one administration may hold (the dose taken each time at the start: never a bigger one). A
    daily dose that several schedules make is given at the most administrations a day (the smallest dose
    each time). Along a plan the dose each time never rises: :meth:`below` a dose gives only schedules no
    bigger each time than that dose's own (15 mg three times a day is never followed by 20 mg twice)."""

    def __init__(
        self, strengths: Sequence[Decimal], ceiling: Decimal, max_units: int | None, most_per_day: int
    ) -> None:
        per_dose = Compositions(strengths, ceiling, max_units)
        doses = per_dose.below(ceiling)
        made = per_dose.units(ceiling)
        if made is not None and (max_units is None or sum(n for _, n in made) <= max_units):
            doses.append(ceiling)
        self._per_dose = per_dose
        self._schedule: dict[Decimal, tuple[int, Decimal]] = {Decimal(0): (most_per_day, Decimal(0))}
        for dose in doses:
            for per_day in range(1, most_per_day + 1):
                total = dose * per_day
                if total > 0 and per_day > self._schedule.get(total, (0, dose))[0]:
                    self._schedule[total] = (per_day, dose)

    def below(self, dose: Decimal) -> list[Decimal]:
        """Every daily dose some schedule makes below ``dose`` with no bigger a dose each time than ``dose``'s
        own schedule (or, for a dose no schedule makes, than the ceiling), largest first (0 included)."""
        each = self.each(dose)
        return sorted(
            (d for d, (_, e) in self._schedule.items() if d < dose and (each is None or e <= each)),
            reverse=True,
        )

    def each(self, dose: Decimal) -> Decimal | None:
        """The dose each time of the schedule making ``dose``; ``None`` if none does."""
        found = self._schedule.get(dose)
        return found[1] if found else None

    def per_day(self, dose: Decimal) -> int | None:
        """Administrations a day of the schedule making ``dose``; ``None`` if none does."""
        found = self._schedule.get(dose)
        return found[0] if found else None

    def units(self, dose: Decimal) -> tuple[tuple[Decimal, int], ...] | None:
        """The fewest units making one administration of ``dose``, strongest first; ``None`` if none does."""
        found = self._schedule.get(dose)
        return None if found is None else self._per_dose.units(found[1])
