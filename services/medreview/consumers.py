"""medreview's subscriptions: each consumed event goes to its handler inside the inbox transaction.

* ``medreview-medication-list``: ``patient.enrolled`` and ``medication.list-synced`` keep the patient's list;
* ``medreview-gp-decisions``: ``gp.task-completed`` applies the GP's approval or decline of a taper step;
* ``medreview-discharge``: ``patient.discharged`` ends the patient's open taper plan and schedules the
  follow-up reviews (``handlers/follow_up.py``).

A synced list also records a follow-up review that has come due; ``gp.task-completed`` for a concern raised
during a reduction (or its escalation) answers it (``handlers/concern.py``).

Consumer names key the inbox and the broker's durable consumers: they must not change between releases.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from services.medreview.handlers import (
    APPROVAL_LEAD_DAYS,
    Session,
    on_medication_list_synced,
    on_patient_discharged,
    on_patient_enrolled,
    on_task_completed,
)
from services.medreview.handlers.concern import on_concern_answered
from services.medreview.handlers.follow_up import on_follow_up_sync, schedule_follow_ups
from services.medreview.repository import MedreviewRepository
from shared.contracts import (
    GP_TASK_COMPLETED_V1,
    MEDICATION_LIST_SYNCED_V1,
    PATIENT_DISCHARGED_V1,
    PATIENT_ENROLLED_V1,
    CloudEvent,
)
from shared.web import Consumer
from shared.web.clock import Clock, system_clock

__all__ = ["consumers"]

FOLLOW_UP_MONTHS = (3, 12)
EventHandler = Callable[[Session, CloudEvent], None]


def consumers(
    repo: MedreviewRepository,
    *,
    approval_lead_days: int = APPROVAL_LEAD_DAYS,
    now: Clock = system_clock,
    follow_up_months: tuple[int, ...] = FOLLOW_UP_MONTHS,
) -> list[Consumer]:
    """The service's durable consumers over ``repo``; ``now``: the service's clock."""

    def list_synced(s: Session, event: CloudEvent) -> None:
        on_medication_list_synced(s, event)
        on_follow_up_sync(s, event)

    def task_completed(s: Session, event: CloudEvent) -> None:
        if not on_concern_answered(s, event):
            on_task_completed(s, event)

    def discharged(s: Session, event: CloudEvent) -> None:
        on_patient_discharged(s, event)
        schedule_follow_ups(s, event, follow_up_months)

    routes: dict[str, EventHandler] = {
        PATIENT_ENROLLED_V1.type: on_patient_enrolled,
        MEDICATION_LIST_SYNCED_V1.type: list_synced,
        GP_TASK_COMPLETED_V1.type: task_completed,
        PATIENT_DISCHARGED_V1.type: discharged,
    }

    def apply(conn: Connection, event: CloudEvent) -> None:
        session = Session.for_event(conn, repo, event, now(), approval_lead_days=approval_lead_days)
        routes[event.type](session, event)

    return [
        Consumer("medreview-medication-list", (PATIENT_ENROLLED_V1, MEDICATION_LIST_SYNCED_V1), apply),
        Consumer("medreview-gp-decisions", (GP_TASK_COMPLETED_V1,), apply),
        Consumer("medreview-discharge", (PATIENT_DISCHARGED_V1,), apply),
    ]
