"""The monthly multidisciplinary review (MDT): which patients need it this month, and why. Pure.

A patient with an open pain management plan is on the month's agenda for each reason below, taken from
what careplan receives by event (it reads no other service's data):

* from their latest medication review (``medreview.completed``: the total daily OME Observation and its
  DetectedIssues, codes of medreview's ``medreview-risk``): ``high-dose`` (300 mg OME a day or more:
  ``ome-specialist-advice``, or a total at or above 300, a lower bound included, since "at least 300" is
  300 or more), ``benzodiazepine`` (``opioid-benzodiazepine``), ``methadone`` (``methadone``: any methadone
  product, raised on the same medicines as medreview's methadone gate), ``transmucosal-fentanyl`` and
  ``opioid-substitution`` (``opioid-substitution-therapy``) - the safety gates medreview applies before a
  taper, each named by a DetectedIssue of its own (careplan sees only the flags, never the medicines);
* from the plan's de-scripting activity (``taper.paused`` / ``taper.declined`` put it on hold with a progress
  note): ``taper-paused``, ``taper-declined``;
* ``dose-rising``: since the taper was first proposed (the activity's first progress note), the latest
  review's total is computable and above the lowest computable total in between: the reduction reversed.
  Totals that were only lower bounds are never compared (a figure is right or not used).

The threshold is Opioids Aware's (Faculty of Pain Medicine): 300 mg OME a day or more, seek specialist
support; medreview raises ``ome-specialist-advice`` at the same figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.careplan.domain.catalogue import FHIR_BASE

__all__ = [
    "HIGH_DOSE_MG_PER_DAY",
    "MDT_OUTCOME_SYSTEM",
    "MDT_REASON_SYSTEM",
    "OUTCOMES",
    "REASONS",
    "YEARS",
    "AgendaItem",
    "MdtPatient",
    "Reason",
    "Review",
    "agenda",
    "carry_over",
    "check_year",
    "descripting_of",
    "parse_month",
    "previous_month",
    "reasons_for",
]

HIGH_DOSE_MG_PER_DAY = Decimal(300)
MDT_REASON_SYSTEM = f"{FHIR_BASE}/CodeSystem/mdt-reason"
MDT_OUTCOME_SYSTEM = f"{FHIR_BASE}/CodeSystem/mdt-outcome"
REASONS = {
    "high-dose": "300 mg OME a day or more",
    "benzodiazepine": "Benzodiazepine with the opioid",
    "methadone": "Methadone",
    "transmucosal-fentanyl": "Transmucosal fentanyl",
    "opioid-substitution": "Opioid substitution therapy",
    "taper-paused": "Taper paused",
    "taper-declined": "Taper step declined",
    "dose-rising": "Dose rising during a taper",
    "carried-over": "Deferred at last month's MDT",
}
OUTCOMES = {
    "continue-plan": "Continue the plan",
    "slow-taper": "Slow the taper",
    "pause-taper": "Pause the taper",
    "restart-taper": "Restart the taper",
    "taper-agreed": "Taper agreed",
    "taper-not-advised": "Taper not advised",
    "refer-specialist": "Refer to a specialist",
    "deferred": "Deferred",
}
# medreview-risk codes → our reasons (the safety gates careplan can see by event).
_FLAG_REASONS = {
    "ome-specialist-advice": "high-dose",
    "opioid-benzodiazepine": "benzodiazepine",
    "methadone": "methadone",
    "transmucosal-fentanyl": "transmucosal-fentanyl",
    "opioid-substitution-therapy": "opioid-substitution",
}
_FLAG_TEXT = {
    "benzodiazepine": "A benzodiazepine is prescribed with the opioid",
    "methadone": "Methadone is prescribed (no fixed OME; a reduction is a specialist's)",
    "transmucosal-fentanyl": "Transmucosal fentanyl is prescribed (no fixed OME)",
    "opioid-substitution": "Opioid substitution therapy is prescribed (the drug service owns that dose)",
}
DESCRIPTING = "de-scripting"


@dataclass(frozen=True, slots=True)
class Review:
    """One medication review: when, the total daily OME (mg/day; a lower bound when ``lower_bound``, or
    ``None`` when not given) and the medreview-risk codes it raised."""

    when: datetime
    total: Decimal | None
    lower_bound: bool
    flags: frozenset[str]


@dataclass(frozen=True, slots=True)
class MdtPatient:
    """What careplan knows of one patient with an open plan: the de-scripting activity's status and
    progress notes ``(time, text)`` in order, and the medication reviews in time order."""

    patient: str
    plan_id: str
    descripting_status: str | None
    descripting_notes: tuple[tuple[str, str], ...]
    reviews: tuple[Review, ...]


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class AgendaItem:
    patient: str
    plan_id: str
    reasons: tuple[Reason, ...]


def _mg(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def descripting_of(plan: Mapping[str, Any]) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The plan's de-scripting activity: its status and its progress notes (time, text), or (None, ())."""
    for activity in plan.get("activity") or ():
        detail = activity.get("detail") or {}
        codes = {c.get("code") for c in (detail.get("code") or {}).get("coding") or ()}
        if activity.get("id") == DESCRIPTING or DESCRIPTING in codes:
            notes = tuple(
                (str(n.get("time") or ""), str(n.get("text") or ""))
                for n in activity.get("progress") or ()
                if isinstance(n, Mapping)
            )
            status = detail.get("status")
            return (str(status) if status else None), notes
    return None, ()


def _on_hold(p: MdtPatient) -> Reason | None:
    if p.descripting_status != "on-hold":
        return None
    last = p.descripting_notes[-1][1] if p.descripting_notes else "De-scripting is on hold"
    if last.startswith("The GP declined"):
        return Reason("taper-declined", last)
    return Reason("taper-paused", last)


def _dose_rising(p: MdtPatient) -> Reason | None:
    if not p.descripting_notes or not p.reviews:
        return None
    started = p.descripting_notes[0][0]
    since = [r for r in p.reviews if _same_or_after(r.when, started)]
    latest = p.reviews[-1]
    if not since or since[-1] is not latest or latest.total is None or latest.lower_bound:
        return None
    earlier = [(r.total, r) for r in since[:-1] if r.total is not None and not r.lower_bound]
    if not earlier:
        return None
    lowest, review = min(earlier, key=lambda pair: pair[0])
    if latest.total <= lowest:
        return None
    return Reason(
        "dose-rising",
        f"Total daily OME rose to {_mg(latest.total)} mg/day (review of {latest.when.date()}) from "
        f"{_mg(lowest)} mg/day (review of {review.when.date()}) since the taper was proposed",
    )


def _same_or_after(moment: datetime, text: str) -> bool:
    try:
        other = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    if (other.tzinfo is None) != (moment.tzinfo is None):
        return moment.replace(tzinfo=None) >= other.replace(tzinfo=None)
    return moment >= other


def reasons_for(p: MdtPatient) -> list[Reason]:
    """Why this patient is on the MDT agenda (empty: not this month), in ``REASONS`` order."""
    found: dict[str, Reason] = {}
    if p.reviews:
        latest = p.reviews[-1]
        on = latest.when.date().isoformat()
        codes = {_FLAG_REASONS[f] for f in latest.flags if f in _FLAG_REASONS}
        at_least = latest.total is not None and latest.total >= HIGH_DOSE_MG_PER_DAY
        if "high-dose" in codes or at_least:
            if latest.total is None:
                text = (
                    f"Opioid dose needing specialist advice (300 mg OME a day or more) at the review of {on}"
                )
            else:
                bound = "at least " if latest.lower_bound else ""
                text = f"Total daily OME {bound}{_mg(latest.total)} mg/day at the review of {on}"
            found["high-dose"] = Reason("high-dose", text)
        for code in sorted(codes - {"high-dose"}):
            found[code] = Reason(code, f"{_FLAG_TEXT[code]} (review of {on})")
    for reason in (_on_hold(p), _dose_rising(p)):
        if reason is not None:
            found[reason.code] = reason
    return [found[code] for code in REASONS if code in found]


def agenda(patients: Iterable[MdtPatient]) -> list[AgendaItem]:
    """The month's agenda: one item per patient with a reason, in patient order."""
    items = []
    for p in sorted(patients, key=lambda x: x.patient):
        reasons = reasons_for(p)
        if reasons:
            items.append(AgendaItem(p.patient, p.plan_id, tuple(reasons)))
    return items


def carry_over(items: Sequence[AgendaItem], deferred: Mapping[str, str], previous: str) -> list[AgendaItem]:
    """The agenda with last month's deferred items carried over: ``deferred`` maps each patient whose
    item was deferred at the MDT of ``previous`` (YYYY-MM), and whose plan is still open, to that plan's id.
    A patient already on the agenda gets the reason beside their others."""
    reason = Reason("carried-over", f"Deferred at the MDT of {previous}")
    by_patient = {item.patient: item for item in items}
    for patient, plan_id in deferred.items():
        found = by_patient.get(patient)
        if found is None:
            by_patient[patient] = AgendaItem(patient, plan_id, (reason,))
        elif all(r.code != "carried-over" for r in found.reasons):
            by_patient[patient] = AgendaItem(patient, found.plan_id, (*found.reasons, reason))
    return [by_patient[p] for p in sorted(by_patient)]


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


# The years the service plans meetings for or reports on. Far inside datetime's 1..9999, so that every
# date derived from one (the month before, a meeting's weekday, a 12-month follow-up window) exists and
# an absurd year is a 400 that names the range, never an overflow deep in a rule.
YEARS = range(1900, 3000)


def check_year(year: int, what: str) -> None:
    """``ValueError`` unless ``year`` is one the service plans or reports on (``YEARS``)."""
    if year not in YEARS:
        raise ValueError(f"{what} must be in the years {YEARS[0]} to {YEARS[-1]}, not {year}")


def parse_month(text: str | None, today: date) -> tuple[int, int]:
    """``YYYY-MM`` (ASCII digits, a year in ``YEARS``) as (year, month); ``None`` is next month.
    ``ValueError`` for anything else."""
    if text is None:
        return (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    parts: Sequence[str] = text.split("-")
    shaped = len(parts) == 2 and len(parts[0]) == 4 and len(parts[1]) == 2
    if not shaped or not all(part.isascii() and part.isdigit() for part in parts):
        raise ValueError(f"month must be YYYY-MM, not {text!r}")
    year, month = int(parts[0]), int(parts[1])
    check_year(year, "month")
    if not 1 <= month <= 12:
        raise ValueError(f"month must be YYYY-MM with MM from 01 to 12, not {text!r}")
    return year, month
