"""Concerns raised during a dose reduction: pure rules (no I/O; the time is an argument).

A patient, or a project worker on their behalf, raises a concern while a taper is running: withdrawal
symptoms, a pain flare, or low mood. Each reaches the practice as a Task whose FHIR ``priority`` (R4
``request-priority``: routine < urgent < asap < stat) comes from its kind:

* withdrawal and mood: ``asap`` (a reduction may have to stop today; low mood during a reduction is a
  risk the GP must see the same day);
* pain flare: ``urgent`` (the patient is offered going back to the previous step meanwhile).

A withdrawal or mood concern rated at or above the configured severity (the patient's own 0-10 rating)
pauses the plan; a flare never pauses by itself. Each priority has an answer time (hours); a concern not
answered by then is escalated once: its priority goes up one level and an escalation Task goes to the
practice. These are service choices to review locally, not figures from a guideline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "PRIORITY_ORDER",
    "ConcernKind",
    "ConcernPolicy",
    "Triage",
    "escalated_priority",
    "is_overdue",
    "triage",
]

PRIORITY_ORDER = ("routine", "urgent", "asap", "stat")
"""FHIR R4 request-priority codes, lowest first."""


class ConcernKind(StrEnum):
    WITHDRAWAL = "withdrawal"
    PAIN_FLARE = "pain-flare"
    MOOD = "mood"


_PRIORITY = {ConcernKind.WITHDRAWAL: "asap", ConcernKind.MOOD: "asap", ConcernKind.PAIN_FLARE: "urgent"}
_MAY_PAUSE = frozenset({ConcernKind.WITHDRAWAL, ConcernKind.MOOD})


@dataclass(frozen=True)
class ConcernPolicy:
    """``pause_severity``: a withdrawal or mood concern rated at or above this (0-10) pauses the plan;
    ``answer_hours``: hours the practice has to answer, by priority code."""

    pause_severity: int = 7
    answer_hours: tuple[tuple[str, int], ...] = (("asap", 4), ("urgent", 24))

    def hours_for(self, priority: str) -> int:
        """Hours allowed to answer a concern of ``priority`` (the longest configured for an unknown one)."""
        table = dict(self.answer_hours)
        return table.get(priority, max(table.values()))


@dataclass(frozen=True)
class Triage:
    """What a concern leads to: its Task's ``priority``, whether the plan pauses, whether going back a
    step is offered, and by when the practice is to answer."""

    priority: str
    pauses: bool
    offers_step_back: bool
    answer_by: datetime


def triage(kind: ConcernKind, severity: int, raised: datetime, policy: ConcernPolicy) -> Triage:
    """The rules of the module doc for one concern rated ``severity`` (0-10), raised at ``raised``."""
    if not 0 <= severity <= 10:
        raise ValueError("severity is the patient's rating from 0 to 10")
    priority = _PRIORITY[kind]
    pauses = kind in _MAY_PAUSE and severity >= policy.pause_severity
    answer_by = raised + timedelta(hours=policy.hours_for(priority))
    return Triage(priority, pauses, kind is ConcernKind.PAIN_FLARE, answer_by)


def escalated_priority(priority: str) -> str:
    """One level up (``stat`` stays ``stat``); an unknown code is treated as ``routine``."""
    level = PRIORITY_ORDER.index(priority) if priority in PRIORITY_ORDER else 0
    return PRIORITY_ORDER[min(level + 1, len(PRIORITY_ORDER) - 1)]


def is_overdue(answer_by: datetime | None, answered: bool, escalated: bool, now: datetime) -> bool:
    """A concern is escalated when its answer time has passed (``now`` at or after it), it is not answered
    and it has not been escalated already. No answer time: never overdue."""
    return answer_by is not None and not answered and not escalated and now >= answer_by
