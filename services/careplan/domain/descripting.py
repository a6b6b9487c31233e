"""Medication steps from medreview shown as the de-scripting activity's progress in the patient's plan.

Pure: the taper event's data in, the de-scripting activity's new status, reason and progress note out.
The data (docs/EVENTS.md) is a Bundle: the taper CarePlan, whose activities are each a ``reference`` to a
step's MedicationRequest (``intent`` proposal) or, for a hold, a ``detail``, and those MedicationRequests,
which hold the step's date (``dispenseRequest.validityPeriod.start``), number (extension ``taper-step``),
status (draft proposed, completed ordered, cancelled) and why it was cancelled (``statusReason``, coded
``declined`` when the GP declined it). Earlier producers sent the CarePlan alone with the date, status and
reason in ``activity.detail``, or for a decline possibly the approval Task; both still read.

A decline or a pause puts de-scripting on hold, never stops it: the plan allows slowing and pausing, and
a new proposal can follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.careplan.domain.activities import activity_key
from services.careplan.domain.catalogue import FHIR_BASE
from shared.contracts.taper import step_status, taper_parts

__all__ = [
    "DESCRIPTING",
    "TaperProgress",
    "TaperStep",
    "apply_taper_progress",
    "taper_progress",
    "taper_steps",
]

DESCRIPTING = "de-scripting"
KINDS = ("proposed", "approved", "declined", "paused")
TAPER_STEP_EXTENSION = f"{FHIR_BASE}/StructureDefinition/taper-step"
STEP_STATUS_REASON = f"{FHIR_BASE}/CodeSystem/taper-step-status-reason"
PENDING = frozenset({"not-started", "scheduled"})
ORDERED = frozenset({"in-progress", "completed"})


@dataclass(frozen=True, slots=True)
class TaperProgress:
    """What a taper event means for de-scripting: ``status`` is a CarePlan activity status."""

    status: str
    reason: str | None
    note: str


@dataclass(frozen=True, slots=True)
class TaperStep:
    """One step of a taper plan as careplan reads it: ``status`` a CarePlan activity status (``completed``
    or ``in-progress`` once ordered), ``declined`` when the GP declined it (not merely withdrawn)."""

    number: int
    date: str | None
    status: str
    reason: str | None
    declined: bool
    ordered_by_request: bool


def _text(concept: Any) -> str | None:
    if not isinstance(concept, Mapping):
        return None
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return None


def _coded(concept: Any, system: str, code: str) -> bool:
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    return any(
        isinstance(c, Mapping) and c.get("system") == system and c.get("code") == code for c in codings or []
    )


def _step_number(node: Mapping[str, Any]) -> int | None:
    for extension in node.get("extension") or []:
        if extension.get("url") == TAPER_STEP_EXTENSION:
            for part in extension.get("extension") or []:
                if part.get("url") == "number" and isinstance(part.get("valueInteger"), int):
                    return int(part["valueInteger"])
    return None


def _request_date(request: Mapping[str, Any]) -> str | None:
    start = ((request.get("dispenseRequest") or {}).get("validityPeriod") or {}).get("start")
    for dosage in request.get("dosageInstruction") or []:
        bounds = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}
        start = start or bounds.get("start")
    return str(start)[:10] if start else None


def taper_steps(plan: Mapping[str, Any], requests: Mapping[str, Mapping[str, Any]]) -> list[TaperStep]:
    """The plan's steps in order, each read from its MedicationRequest when there is one (``requests``),
    else from the activity's ``detail`` (a hold, or a plan sent without its MedicationRequests)."""
    steps = []
    for position, activity in enumerate(plan.get("activity") or [], start=1):
        if not isinstance(activity, Mapping):
            continue
        reference = str((activity.get("reference") or {}).get("reference", ""))
        request = requests.get(reference)
        detail = activity.get("detail") or {}
        if request is not None:
            reason = request.get("statusReason")
            steps.append(
                TaperStep(
                    number=_step_number(request) or position,
                    date=_request_date(request),
                    status=step_status(request),
                    reason=_text(reason),
                    declined=_coded(reason, STEP_STATUS_REASON, "declined"),
                    ordered_by_request=True,
                )
            )
            continue
        start = (detail.get("scheduledPeriod") or {}).get("start")
        steps.append(
            TaperStep(
                number=_step_number(activity) or position,
                date=str(start)[:10] if start else None,
                status=str(detail.get("status") or "unknown"),
                reason=_text(detail.get("statusReason")),
                declined=_coded(detail.get("statusReason"), STEP_STATUS_REASON, "declined"),
                ordered_by_request=False,
            )
        )
    return steps


def _approved(steps: list[TaperStep]) -> TaperStep | None:
    """The step the GP just approved: the latest in progress (the form before the Bundle), else the
    latest ordered reduction."""
    in_progress = [s for s in steps if s.status == "in-progress"]
    if in_progress:
        return in_progress[-1]
    ordered = [s for s in steps if s.status in ORDERED and s.ordered_by_request]
    return ordered[-1] if ordered else None


def _declined(steps: list[TaperStep]) -> TaperStep | None:
    """The step the GP declined: the latest coded so, else (the form before the Bundle) the first
    cancelled one."""
    coded = [s for s in steps if s.declined]
    if coded:
        return coded[-1]
    return next((s for s in steps if s.status == "cancelled"), None)


def taper_progress(kind: str, data: Mapping[str, Any]) -> TaperProgress:
    """The de-scripting progress a ``taper.<kind>`` event stands for (kind: proposed, approved,
    declined, paused), from the event's data: a Bundle, a CarePlan or (a decline) a Task."""
    if kind not in KINDS:
        raise ValueError(f"unknown taper event kind {kind!r}")
    taper, requests = taper_parts(data)
    if kind == "declined" and taper.get("resourceType") == "Task":
        reason = _text(taper.get("statusReason")) or "Declined by the GP"
        return TaperProgress("on-hold", reason, f"The GP declined the dose reduction step: {reason}.")
    steps = taper_steps(taper, requests)
    if kind == "proposed":
        pending = [s for s in steps if s.status in PENDING] or steps
        dates = sorted(s.date for s in pending if s.date)
        start = f", first step on {dates[0]}" if dates else ""
        note = f"Dose reduction proposed to the GP: {len(pending)} steps{start}."
        return TaperProgress("scheduled", None, note)
    if kind == "approved":
        found = _approved(steps)
        which = "a step"
        if found:
            which = f"step {found.number}" + (f" ({found.date})" if found.date else "")
        return TaperProgress("in-progress", None, f"The GP approved {which} of the dose reduction.")
    if kind == "declined":
        declined = _declined(steps)
        reason = (declined.reason if declined else None) or "Declined by the GP"
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
