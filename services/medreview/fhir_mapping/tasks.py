"""Tasks for the GP practice (``gp.task-requested``, docs/EVENTS.md) and reading their outcome back.

A Task asks the practice to approve one taper step (``approve-taper-step``, ``focus`` the step's proposed
MedicationRequest) or to review a paused plan (``review``, ``focus`` the CarePlan). Its ``identifier``
is ours: the practice's answer (``gp.task-completed``) carries it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from services.medreview.fhir_mapping.codes import GP_TASK_TYPE, ODS_SYSTEM, TASK_ID_SYSTEM, concept
from services.medreview.fhir_mapping.quantities import instant

__all__ = ["APPROVE_STEP", "REVIEW", "Decision", "Outcome", "gp_task", "outcome_of", "task_identifier"]

APPROVE_STEP = "approve-taper-step"
REVIEW = "review"
_DISPLAY = {APPROVE_STEP: "Approve a taper step", REVIEW: "Review"}
_APPROVED = frozenset({"approved", "approve", "accepted"})
_DECLINED = frozenset({"declined", "decline", "rejected", "refused"})


class Decision(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"


@dataclass(frozen=True)
class Outcome:
    """What the GP decided on a Task, and why (``reason``, for a decline)."""

    decision: Decision
    reason: str | None


def task_identifier(task: Mapping[str, Any]) -> str | None:
    """Our identifier value of a Task, if it carries one."""
    return next(
        (
            str(i["value"])
            for i in task.get("identifier") or []
            if i.get("system") == TASK_ID_SYSTEM and i.get("value")
        ),
        None,
    )


def gp_task(
    code: str,
    *,
    patient: str,
    focus: str,
    practice: str,
    authored: datetime,
    description: str,
    summary: str,
    based_on: str | None = None,
    due: date | None = None,
    send_on: date | None = None,
) -> dict[str, Any]:
    """A Task for the practice (``status`` requested, ``intent`` order) with a new identifier. ``due``: the
    date it is about (``restriction.period.start``, a step's date); ``send_on``: the day the practice is to
    have it (``executionPeriod.start``): gpconnect does not deliver it to the GP system before then."""
    task: dict[str, Any] = {
        "resourceType": "Task",
        "identifier": [{"system": TASK_ID_SYSTEM, "value": str(uuid.uuid4())}],
        "status": "requested",
        "intent": "order",
        "priority": "routine",
        "code": concept(GP_TASK_TYPE, code, _DISPLAY.get(code)),
        "description": description,
        "focus": {"reference": focus},
        "for": {"reference": patient},
        "authoredOn": instant(authored),
        "lastModified": instant(authored),
        "owner": {"identifier": {"system": ODS_SYSTEM, "value": practice}},
        "input": [{"type": {"text": "summary"}, "valueString": summary}],
    }
    if based_on:
        task["basedOn"] = [{"reference": based_on}]
    if due:
        task["restriction"] = {"period": {"start": instant(due)}}
    if send_on:
        task["executionPeriod"] = {"start": instant(send_on)}
    return task


def _words(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value.strip().lower()}
    if not isinstance(value, Mapping):
        return set()
    words = {str(c.get("code", "")).lower() for c in value.get("coding") or [] if isinstance(c, Mapping)}
    if value.get("text"):
        words.add(str(value["text"]).strip().lower())
    return words


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if not isinstance(value, Mapping):
        return None
    if value.get("text"):
        return str(value["text"])
    displays = [
        str(c.get("display") or c.get("code")) for c in value.get("coding") or [] if isinstance(c, Mapping)
    ]
    return "; ".join(d for d in displays if d) or None


def outcome_of(task: Mapping[str, Any]) -> Outcome | None:
    """The GP's decision on a completed Task: ``completed`` + businessStatus approved is an approval;
    ``rejected`` (or businessStatus declined) a decline with ``statusReason``; else no decision."""
    status = str(task.get("status", ""))
    business = _words(task.get("businessStatus"))
    reason = _text(task.get("statusReason"))
    if status == "rejected" or business & _DECLINED:
        return Outcome(Decision.DECLINED, reason)
    if status == "completed" and business & _APPROVED:
        return Outcome(Decision.APPROVED, reason)
    return None
