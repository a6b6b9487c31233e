"""What a consumed event asks of the GP system, read from the event's FHIR data: pure rules (no I/O).

Which patient it names, on which day a delivery comes due (a Task's ``executionPeriod.start``,
a prescription change's date), and which Tasks the GP decides on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "DECISION_TASKS",
    "TASK_TYPES",
    "day_start",
    "has_attachment",
    "is_decision_task",
    "patient_of",
    "prescription_date",
    "resources_of",
    "task_code",
    "task_send_on",
]

TASK_TYPES = "https://pain-review.example.org/fhir/CodeSystem/gp-task-type"
DECISION_TASKS = frozenset({"approve-taper-step", "review", "taper-concern", "concern-escalation"})
"""Task types the GP decides on: gpconnect asks the GP system for the decision until there is one."""


def resources_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    if data.get("resourceType") == "Bundle":
        return [e["resource"] for e in data.get("entry", ()) if isinstance(e.get("resource"), dict)]
    return [data]


def patient_of(data: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in resources_of(data) if r.get("resourceType") == "Patient"), None)


def day_start(value: Any) -> datetime | None:
    """The start (00:00 UTC) of the day a FHIR date or dateTime names; ``None`` when it names none."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def task_send_on(task: dict[str, Any]) -> datetime | None:
    """When the practice is to have the Task: its ``executionPeriod.start`` (an approval Task goes to the GP
    a set number of days before the step it asks about)."""
    return day_start((task.get("executionPeriod") or {}).get("start"))


def prescription_date(change: dict[str, Any]) -> datetime | None:
    """The day a prescription change takes effect: its new prescription's ``validityPeriod.start`` (a
    taper step's date). Nothing is written to the GP system before it."""
    new = next(
        (
            r
            for r in resources_of(change)
            if r.get("resourceType") == "MedicationRequest" and r.get("status") == "active"
        ),
        None,
    )
    return day_start((((new or {}).get("dispenseRequest") or {}).get("validityPeriod") or {}).get("start"))


def task_code(task: dict[str, Any]) -> str | None:
    for coding in (task.get("code") or {}).get("coding", ()):
        if coding.get("system") == TASK_TYPES:
            return str(coding.get("code"))
    return None


def has_attachment(task: dict[str, Any]) -> bool:
    return any(isinstance(i.get("valueAttachment"), dict) for i in task.get("input", ()))


def is_decision_task(task: dict[str, Any]) -> bool:
    return task_code(task) in DECISION_TASKS
