"""The careplan service's subscriptions: durable consumer names (stable across releases) to handlers."""

from __future__ import annotations

from collections.abc import Mapping

from services.careplan.handlers import CareplanHandlers
from services.careplan.handlers_mdt import medication_review_for_mdt
from shared.contracts import (
    FOLLOW_UP_RECORDED_V1,
    GP_TASK_COMPLETED_V1,
    MEDREVIEW_COMPLETED_V1,
    PATIENT_DISCHARGED_V1,
    PATIENT_ENROLLED_V1,
    PATIENT_INVITED_V1,
    REFERRAL_ACCEPTED_V1,
    REFERRAL_RECEIVED_V1,
    REFERRAL_REJECTED_V1,
    TAPER_APPROVED_V1,
    TAPER_DECLINED_V1,
    TAPER_PAUSED_V1,
    TAPER_PROPOSED_V1,
    CloudEvent,
    EventType,
)
from shared.fhir import ConsumerHandler, UnitOfWork
from shared.web import Consumer

__all__ = ["consumers"]


def _consumer(handlers: CareplanHandlers, name: str, table: Mapping[EventType, ConsumerHandler]) -> Consumer:
    by_type = {t.type: h for t, h in table.items()}

    def dispatch(event: CloudEvent, uow: UnitOfWork) -> None:
        by_type[event.type](event, uow)

    handler = handlers.kernel.consumer(dispatch, client_id=handlers.CLIENT_ID)
    return Consumer(name=name, event_types=tuple(table), handler=handler)


def _mdt_facts(event: CloudEvent, uow: UnitOfWork) -> None:
    medication_review_for_mdt(uow.conn, event)


def consumers(handlers: CareplanHandlers) -> list[Consumer]:
    """One durable consumer per purpose; each dispatches on the event type."""
    return [
        _consumer(
            handlers,
            "careplan-enrolment",
            {PATIENT_ENROLLED_V1: handlers.enrolled, PATIENT_DISCHARGED_V1: handlers.discharged},
        ),
        _consumer(
            handlers,
            "careplan-taper",
            {
                TAPER_PROPOSED_V1: handlers.taper("proposed"),
                TAPER_APPROVED_V1: handlers.taper("approved"),
                TAPER_DECLINED_V1: handlers.taper("declined"),
                TAPER_PAUSED_V1: handlers.taper("paused"),
            },
        ),
        _consumer(
            handlers,
            "careplan-evaluation",
            {
                REFERRAL_RECEIVED_V1: handlers.referral("received"),
                REFERRAL_ACCEPTED_V1: handlers.referral("accepted"),
                REFERRAL_REJECTED_V1: handlers.referral("rejected"),
                PATIENT_INVITED_V1: handlers.invited,
                MEDREVIEW_COMPLETED_V1: handlers.medication_reviewed,
            },
        ),
        _consumer(handlers, "careplan-gp-tasks", {GP_TASK_COMPLETED_V1: handlers.gp_task_completed}),
        # The monthly MDT agenda's facts: each review's total OME and risk flags (handlers_mdt.py).
        _consumer(handlers, "careplan-mdt", {MEDREVIEW_COMPLETED_V1: _mdt_facts}),
        # The PROMs as of a follow-up after discharge (medreview records the OME and whether the dose held).
        _consumer(handlers, "careplan-follow-up", {FOLLOW_UP_RECORDED_V1: handlers.follow_up_recorded}),
    ]
