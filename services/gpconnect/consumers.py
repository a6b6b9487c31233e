"""gpconnect's durable consumers: each names its purpose (it keys the inbox and the broker)."""

from __future__ import annotations

from services.gpconnect import handlers
from shared.contracts import (
    GP_RECORD_READ_REQUESTED_V1,
    GP_TASK_REQUESTED_V1,
    PATIENT_DISCHARGED_V1,
    PATIENT_ENROLLED_V1,
    PRESCRIPTION_CHANGED_V1,
    REFERRAL_ACCEPTED_V1,
    REFERRAL_REJECTED_V1,
)
from shared.fhir import FhirKernel
from shared.web import Consumer

__all__ = ["consumers"]


def consumers(kernel: FhirKernel) -> list[Consumer]:
    """Each a ``handler(event, uow)`` run by ``kernel.consumer`` in the inbox's transaction."""
    return [
        Consumer(
            "gpconnect-record-read", (PATIENT_ENROLLED_V1,), kernel.consumer(handlers.on_patient_enrolled)
        ),
        Consumer(
            "gpconnect-referral-response",
            (REFERRAL_ACCEPTED_V1, REFERRAL_REJECTED_V1),
            kernel.consumer(handlers.on_referral_decided),
        ),
        Consumer("gpconnect-tasks", (GP_TASK_REQUESTED_V1,), kernel.consumer(handlers.on_task_requested)),
        Consumer(
            "gpconnect-prescriptions",
            (PRESCRIPTION_CHANGED_V1,),
            kernel.consumer(handlers.on_prescription_changed),
        ),
        Consumer(
            "gpconnect-follow-up-read",
            (GP_RECORD_READ_REQUESTED_V1,),
            kernel.consumer(handlers.on_record_read_requested),
        ),
        Consumer(
            "gpconnect-discharge", (PATIENT_DISCHARGED_V1,), kernel.consumer(handlers.on_patient_discharged)
        ),
    ]
