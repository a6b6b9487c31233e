"""How often a dose is taken, from the one dose reader's reading: administrations a day, or why not known.

Pure. A taper step is written in the prescription's own terms (twice a day stays twice a day), so it needs
the number of administrations a day the prescription states, read by :func:`shared.medicines.dosage.
max_daily_amount` (structured timing or text). This module only judges that reading; it reads no words of
its own. A whole number of administrations from 1 to 6 a day, in one schedule, is a frequency a step can be
written at, as is the same dose at several times of day ("1 in the morning and 1 at night": 1, twice a
day); anything else (no frequency read, several dosage lines or different doses at times of day that add
up, a frequency that is not whole, a patch, a prescribed maximum standing in for the frequency or holding
the doses below it, a day's total of more than one unit with no frequency: "8 tablets a day") is a
:class:`DosageProblem` naming why, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.medicines.amounts import MG, RATE, UNIT, DailyAmount, DosageProblem, schedule

__all__ = ["MAX_ADMINISTRATIONS", "Administrations", "administrations"]

MAX_ADMINISTRATIONS = 6
"""Every 4 hours: the most often an oral opioid is written to be taken in a day."""


@dataclass(frozen=True, slots=True)
class Administrations:
    """``per_day`` administrations a day of ``dose`` ``dose_unit`` each (when the reading knows one dose);
    ``as_needed``: "when required", so ``per_day`` is the most a day, not a regular schedule."""

    per_day: int
    as_needed: bool
    dose: Decimal | None = None
    dose_unit: str = ""


def administrations(amount: DailyAmount) -> Administrations | DosageProblem:
    """The administrations a day of a dosage the reader has read, or why they are not known."""
    dose, per_day = schedule(amount)
    kind = amount.dose_unit if amount.dose_unit in (MG, RATE) else UNIT  # the dose's kind (its label's)
    held = dose is not None and kind == amount.unit and (per_day is None or dose * per_day != amount.quantity)
    if held and amount.as_needed and dose is not None:
        # "1-2 every 4-6 hours when required, max 8 in 24 hours": 2 a time, at most 8 a day, so up to 4
        # times a day, 2 each time (as "2 up to 4 times a day when required" is read)
        times = amount.quantity / dose
        if times == times.to_integral_value() and 1 <= times <= MAX_ADMINISTRATIONS:
            return Administrations(int(times), True, dose, amount.dose_unit)
    if per_day is None:
        return DosageProblem(
            "frequency-not-one-schedule",
            f"How many times a day is not read as one schedule from '{amount.basis}'",
            amount.words,
        )
    if amount.total_only:
        # "8 tablets a day" of co-codamol: a day's total; read as once a day, a step would be 7 at once
        return DosageProblem(
            "frequency-not-one-schedule",
            f"'{amount.basis}' is a day's total of more than one unit: how many times a day it is taken is "
            "not said",
            amount.words,
        )
    if dose is not None and (kind != amount.unit or dose * per_day != amount.quantity):
        # "2 tablets every 4 hours, max 6 in 24 hours": 6 a day is the maximum, not 6 doses of 2 (12); a
        # step written at 6 a day would halve the dose taken each time. A maximum in another unit than
        # the dose ("5ml four times a day, max 20mg") is one too, whatever its number
        return DosageProblem(
            "frequency-not-one-schedule",
            f"The most a day in '{amount.basis}' is a maximum, not {dose.normalize():f} x "
            f"{per_day.normalize():f}: how many times a day is not one schedule",
            amount.words,
        )
    if per_day != per_day.to_integral_value() or not 1 <= per_day <= MAX_ADMINISTRATIONS:
        return DosageProblem(
            "frequency-not-daily",
            f"{format(per_day.normalize(), 'f')} administrations a day ('{amount.basis}') is not a daily "
            f"schedule of 1 to {MAX_ADMINISTRATIONS} doses",
            amount.words,
        )
    return Administrations(int(per_day), amount.as_needed, dose, amount.dose_unit)
