"""Medication steps from medreview shown as the de-scripting activity's progress in the patient's plan.

Pure: the taper event's data (docs/EVENTS.md: the taper CarePlan, or for a decline possibly the
approval Task) in, the de-scripting activity's new status, reason and progress note out. A decline
or a pause puts de-scripting on hold, never stops it: the plan allows slowing and pausing, and a
new proposal can follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.careplan.activities import activity_key

__all__ = ["DESCRIPTING", "TaperProgress", "apply_taper_progress", "taper_progress"]

DESCRIPTING = "de-scripting"
KINDS = ("proposed", "approved", "declined", "paused")


@dataclass(frozen=True, slots=True)
class TaperProgress:
    """What a taper event means for de-scripting: ``status`` is a CarePlan activity status."""

    status: str
    reason: str | None
    note: str


def _text(concept: Any) -> str | None:
    if not isinstance(concept, Mapping):
        return None
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return None


def _steps(taper: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [a for a in taper.get("activity") or [] if isinstance(a, Mapping)]


def _step_date(step: Mapping[str, Any]) -> str | None:
    period = (step.get("detail") or {}).get("scheduledPeriod") or {}
    start = period.get("start")
    return str(start)[:10] if start else None


def _step_with(taper: Mapping[str, Any], status: str) -> tuple[int, Mapping[str, Any]] | None:
    for number, step in enumerate(_steps(taper), start=1):
        if (step.get("detail") or {}).get("status") == status:
            return number, step
    return None


def taper_progress(kind: str, taper: Mapping[str, Any]) -> TaperProgress:
    """The de-scripting progress a ``taper.<kind>`` event stands for (kind: proposed, approved,
    declined, paused)."""
    if kind not in KINDS:
        raise ValueError(f"unknown taper event kind {kind!r}")
    if kind == "proposed":
        steps = _steps(taper)
        dates = sorted(d for d in (_step_date(s) for s in steps) if d)
        start = f", first step on {dates[0]}" if dates else ""
        note = f"Dose reduction proposed to the GP: {len(steps)} steps{start}."
        return TaperProgress("scheduled", None, note)
    if kind == "approved":
        found = _step_with(taper, "in-progress")
        which = "a step"
        if found:
            when = _step_date(found[1])
            which = f"step {found[0]}" + (f" ({when})" if when else "")
        return TaperProgress("in-progress", None, f"The GP approved {which} of the dose reduction.")
    if kind == "declined":
        if taper.get("resourceType") == "Task":
            reason = _text(taper.get("statusReason"))
        else:
            declined = _step_with(taper, "cancelled")
            reason = _text((declined[1].get("detail") or {}).get("statusReason")) if declined else None
        reason = reason or "Declined by the GP"
        return TaperProgress("on-hold", reason, f"The GP declined the dose reduction step: {reason}.")
    notes = [str(n["text"]) for n in taper.get("note") or [] if isinstance(n, Mapping) and n.get("text")]
    reason = notes[-1] if notes else "Dose reduction paused"
    return TaperProgress("on-hold", reason, f"Dose reduction paused: {reason}.")


def apply_taper_progress(
    plan: Mapping[str, Any],
    progress: TaperProgress,
    *,
    taper_reference: str,
    concept: Mapping[str, Any],
    now: str,
) -> dict[str, Any]:
    """The plan with its de-scripting activity (added when missing) showing ``progress`` at ``now``.

    The taper plan is linked as the activity's ``outcomeReference``; each event adds a progress note.
    """
    activities = [dict(a) for a in plan.get("activity") or []]
    index = next(
        (i for i, a in enumerate(activities) if activity_key(a, i) == DESCRIPTING),
        None,
    )
    if index is None:
        activities.append({"id": DESCRIPTING, "detail": {"code": dict(concept), "status": "not-started"}})
        index = len(activities) - 1
    activity = activities[index]
    detail = {**(activity.get("detail") or {}), "status": progress.status}
    if progress.reason:
        detail["statusReason"] = {"text": progress.reason}
    else:
        detail.pop("statusReason", None)
    activity["detail"] = detail
    activity["progress"] = [*(activity.get("progress") or []), {"time": now, "text": progress.note}]
    outcomes = list(activity.get("outcomeReference") or [])
    if all(o.get("reference") != taper_reference for o in outcomes):
        outcomes.append({"reference": taper_reference, "display": "Dose reduction (taper) plan"})
    activity["outcomeReference"] = outcomes
    return {**plan, "activity": activities}
