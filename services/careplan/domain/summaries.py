"""Plain-text summaries for the GP record: of the pain management plan, and of a session.

Pure. Project workers kept GPs informed with short notes ("I've seen him today … he'll put the plan
on the record"); these summaries are what goes in the GP's Task and, for a plan, the MESH document.
They name no patient: the Task's ``for`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.careplan.domain.catalogue import SESSION_NOTE_EXTENSION

__all__ = ["plan_summary", "session_summary"]

STATUS_WORDS = {
    "not-started": "not started",
    "scheduled": "scheduled",
    "in-progress": "in progress",
    "on-hold": "on hold",
    "completed": "completed",
    "cancelled": "cancelled",
    "stopped": "stopped",
}


def _concept_text(concept: Any) -> str:
    if not isinstance(concept, Mapping):
        return "activity"
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return "activity"


def plan_summary(
    plan: Mapping[str, Any], goals: Sequence[Mapping[str, Any]] = (), note: str | None = None
) -> str:
    """The plan in a few lines: status and period, each activity with its status, the goals."""
    period = plan.get("period") or {}
    lines = [
        f"Pain management plan ({plan.get('status', 'unknown')}), "
        f"{period.get('start', '?')} to {period.get('end', 'open')}.",
    ]
    for activity in plan.get("activity") or []:
        detail = activity.get("detail") or {}
        status = STATUS_WORDS.get(str(detail.get("status")), str(detail.get("status", "")))
        line = f"- {_concept_text(detail.get('code'))}: {status}"
        reason = (detail.get("statusReason") or {}).get("text")
        if reason:
            line += f" ({reason})"
        progress = activity.get("progress") or []
        if progress and progress[-1].get("text"):
            line += f"; latest: {progress[-1]['text']}"
        lines.append(line)
    for goal in goals:
        achievement = _concept_text(goal.get("achievementStatus")) if goal.get("achievementStatus") else "set"
        lines.append(f"Goal: {_concept_text(goal.get('description'))} ({achievement})")
    if note:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def session_summary(encounter: Mapping[str, Any], note: str | None = None) -> str:
    """A session in a few lines: when, where, who attended, what was covered, the notes."""
    period = encounter.get("period") or {}
    lines = [
        f"Session with the project worker ({encounter.get('status', 'unknown')}), {period.get('start', '?')}."
    ]
    places = [str((loc.get("location") or {}).get("display")) for loc in encounter.get("location") or []]
    places = [p for p in places if p and p != "None"]
    if places:
        lines.append(f"Where: {', '.join(places)}.")
    attended = []
    for participant in encounter.get("participant") or []:
        kind = ", ".join(_concept_text(t) for t in participant.get("type") or [])
        who = (participant.get("individual") or {}).get("display")
        attended.append(" ".join(x for x in (kind, f"({who})" if who else "") if x) or "participant")
    if attended:
        lines.append(f"Attended: {'; '.join(attended)}.")
    covered = [_concept_text(t) for t in encounter.get("type") or []]
    if covered:
        lines.append(f"Covered: {', '.join(covered)}.")
    for extension in encounter.get("extension") or []:
        if extension.get("url") == SESSION_NOTE_EXTENSION:
            text = (extension.get("valueAnnotation") or {}).get("text")
            if text:
                lines.append(f"Notes: {text}")
    if note:
        lines.append(f"Note: {note}")
    return "\n".join(lines)
