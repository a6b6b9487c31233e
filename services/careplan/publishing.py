"""The events careplan produces, recorded in the caller's transaction (docs/EVENTS.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from shared.contracts import CAREPLAN_UPDATED_V1, GP_TASK_REQUESTED_V1, new_event
from shared.outbox import record_event

__all__ = ["SOURCE", "record_gp_task_requested", "record_plan_updated"]

SOURCE = "/painreview/careplan"


def record_plan_updated(
    conn: Connection, plan: dict[str, Any], *, practice: str, correlation_id: str | None
) -> None:
    """``careplan.updated``: the pain management plan as stored."""
    record_event(
        conn,
        new_event(
            CAREPLAN_UPDATED_V1,
            source=SOURCE,
            subject=f"CarePlan/{plan['id']}",
            practice=practice,
            data=plan,
            correlationid=correlation_id,
        ),
    )


def record_gp_task_requested(
    conn: Connection, task: dict[str, Any], *, practice: str, correlation_id: str | None
) -> None:
    """``gp.task-requested``: a summary Task for the GP practice."""
    record_event(
        conn,
        new_event(
            GP_TASK_REQUESTED_V1,
            source=SOURCE,
            subject=f"Task/{task['id']}",
            practice=practice,
            data=task,
            correlationid=correlation_id,
        ),
    )
