"""medreview's subscriptions: each consumed event goes to its handler inside the inbox transaction.

* ``medreview-medication-list``: ``patient.enrolled`` and ``medication.list-synced`` keep the patient's list;
* ``medreview-gp-decisions``: ``gp.task-completed`` applies the GP's approval or decline of a taper step;
* ``medreview-discharge``: ``patient.discharged`` ends the patient's open taper plan and schedules the
  follow-up reviews (``workflow/follow_up.py``).

A synced list also records a follow-up review that has come due; ``gp.task-completed`` for a concern raised
during a reduction (or its escalation) answers it (``workflow/concern.py``).

Consumer names key the inbox and the broker's durable consumers: they must not change between releases.
"""

from __future__ import annotations

from services.medreview.workflow import (
    APPROVAL_LEAD_DAYS,
    on_medication_list_synced,
    on_patient_discharged,
    on_patient_enrolled,
    on_task_completed,
)
from services.medreview.workflow.concern import on_concern_answered
from services.medreview.workflow.follow_up import on_follow_up_sync, schedule_follow_ups
from shared.contracts import (
    GP_TASK_COMPLETED_V1,
    MEDICATION_LIST_SYNCED_V1,
    PATIENT_DISCHARGED_V1,
    PATIENT_ENROLLED_V1,
    CloudEvent,
)
from shared.fhir import ConsumerHandler, FhirKernel, UnitOfWork
from shared.web import Consumer

__all__ = ["FOLLOW_UP_MONTHS", "consumers"]

FOLLOW_UP_MONTHS = (3, 12)


def consumers(
    kernel: FhirKernel,
    *,
    approval_lead_days: int = APPROVAL_LEAD_DAYS,
    follow_up_months: tuple[int, ...] = FOLLOW_UP_MONTHS,
) -> list[Consumer]:
    """The service's durable consumers: ``handler(event, uow)`` through ``kernel.consumer`` (the inbox's
    transaction; the service acting for the event's practice, by the kernel's clock)."""

    def list_synced(event: CloudEvent, uow: UnitOfWork) -> None:
        on_medication_list_synced(uow, event)
        on_follow_up_sync(uow, event)

    def task_completed(event: CloudEvent, uow: UnitOfWork) -> None:
        if not on_concern_answered(uow, event):
            on_task_completed(uow, event, lead_days=approval_lead_days)

    def discharged(event: CloudEvent, uow: UnitOfWork) -> None:
        on_patient_discharged(uow, event)
        schedule_follow_ups(uow, event, follow_up_months)

    def enrolled(event: CloudEvent, uow: UnitOfWork) -> None:
        on_patient_enrolled(uow, event)

    routes: dict[str, ConsumerHandler] = {
        PATIENT_ENROLLED_V1.type: enrolled,
        MEDICATION_LIST_SYNCED_V1.type: list_synced,
        GP_TASK_COMPLETED_V1.type: task_completed,
        PATIENT_DISCHARGED_V1.type: discharged,
    }

    def apply(event: CloudEvent, uow: UnitOfWork) -> None:
        routes[event.type](event, uow)

    handler = kernel.consumer(apply)
    return [
        Consumer("medreview-medication-list", (PATIENT_ENROLLED_V1, MEDICATION_LIST_SYNCED_V1), handler),
        Consumer("medreview-gp-decisions", (GP_TASK_COMPLETED_V1,), handler),
        Consumer("medreview-discharge", (PATIENT_DISCHARGED_V1,), handler),
    ]
