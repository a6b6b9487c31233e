"""The versioned event types services exchange, and what each one carries.

A type is ``<name>.v<version>``. A published version is frozen: a change a consumer could notice (a
different resource in ``data``, a new meaning) is a new version registered beside the old one, and the
producer emits both until every consumer has moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.envelope import CloudEvent, InvalidEnvelope, validation_summary
from shared.observability.tracing import inject_traceparent

__all__ = [
    "CAREPLAN_UPDATED_V1",
    "EVENT_TYPES",
    "FOLLOW_UP_RECORDED_V1",
    "GP_RECORD_READ_REQUESTED_V1",
    "GP_TASK_COMPLETED_V1",
    "GP_TASK_REQUESTED_V1",
    "MEDICATION_LIST_SYNCED_V1",
    "MEDREVIEW_COMPLETED_V1",
    "PATIENT_DISCHARGED_V1",
    "PATIENT_ENROLLED_V1",
    "PATIENT_INVITED_V1",
    "PRESCRIPTION_CHANGED_V1",
    "REFERRAL_ACCEPTED_V1",
    "REFERRAL_RECEIVED_V1",
    "REFERRAL_REJECTED_V1",
    "TAPER_APPROVED_V1",
    "TAPER_DECLINED_V1",
    "TAPER_PAUSED_V1",
    "TAPER_PROPOSED_V1",
    "EventType",
    "event_type",
    "event_types",
    "new_event",
    "validate_event",
]


class EventType(BaseModel):
    """One versioned event type: its name, version and the FHIR resource types its ``data`` may be."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Dotted name without version, e.g. referral.accepted.")
    version: int = Field(ge=1)
    resource_types: tuple[str, ...] = Field(min_length=1, description="Allowed data.resourceType values.")
    description: str

    @property
    def type(self) -> str:
        """The CloudEvents ``type``, e.g. ``referral.accepted.v1``."""
        return f"{self.name}.v{self.version}"

    def __str__(self) -> str:
        return self.type


def _t(name: str, resources: tuple[str, ...], description: str) -> EventType:
    return EventType(name=name, version=1, resource_types=resources, description=description)


REFERRAL_RECEIVED_V1 = _t(
    "referral.received",
    ("Bundle", "ServiceRequest"),
    "A referral arrived (BaRS message or GP direct REST) and was stored. data: a Bundle with the "
    "ServiceRequest, the Patient, the workflow Task and, for a BaRS message, its MessageHeader "
    "(docs/EVENTS.md).",
)
REFERRAL_ACCEPTED_V1 = _t(
    "referral.accepted",
    ("Bundle", "ServiceRequest"),
    "The referral was accepted (eligible). data: a Bundle with the ServiceRequest (active), the "
    "Patient, the workflow Task and the original MessageHeader when there was one (docs/EVENTS.md).",
)
REFERRAL_REJECTED_V1 = _t(
    "referral.rejected",
    ("Bundle", "ServiceRequest"),
    "The referral was declined (not eligible, withdrawn). data: a Bundle with the ServiceRequest "
    "(revoked), the Patient, the workflow Task with the reasons and the original MessageHeader when "
    "there was one.",
)
PATIENT_INVITED_V1 = _t(
    "patient.invited",
    ("Communication",),
    "An invitation to join the service was sent to the patient. data: the Communication.",
)
PATIENT_ENROLLED_V1 = _t(
    "patient.enrolled",
    ("Bundle", "EpisodeOfCare"),
    "The patient consented and was enrolled. data: a Bundle with the EpisodeOfCare (active), the "
    "Patient, the ServiceRequest, the Consent and the medication list and conditions received with "
    "the referral.",
)
PATIENT_DISCHARGED_V1 = _t(
    "patient.discharged",
    ("EpisodeOfCare",),
    "The patient left the service. data: the EpisodeOfCare (status finished).",
)
CAREPLAN_UPDATED_V1 = _t(
    "careplan.updated",
    ("CarePlan", "Bundle"),
    "A patient's care plan changed. data: the CarePlan, or a Bundle with it and its Goals.",
)
MEDICATION_LIST_SYNCED_V1 = _t(
    "medication.list-synced",
    ("Bundle",),
    "The patient's medication list was read from the GP record. data: a Bundle of MedicationRequest, "
    "MedicationStatement and Medication resources.",
)
MEDREVIEW_COMPLETED_V1 = _t(
    "medreview.completed",
    ("Bundle",),
    "A medication review finished. data: a Bundle with the total daily OME Observation (mg/day) and "
    "the DetectedIssues raised.",
)
# The four taper types' data widened from the CarePlan alone to a Bundle (the CarePlan had broken R4's cpl-3)
# within v1 rather than as v2: the one consumer (careplan) reads both forms, producers emit only the Bundle.
TAPER_PROPOSED_V1 = _t(
    "taper.proposed",
    ("Bundle", "CarePlan"),
    "A dose-reduction (taper) plan was proposed for GP approval. data: a Bundle with the taper CarePlan "
    "(status draft; each reduction or stop an activity.reference, a hold an activity.detail) and each step's "
    "MedicationRequest (intent proposal: date, dose, step, status). A bare CarePlan is the form before the "
    "Bundle (docs/EVENTS.md).",
)
TAPER_APPROVED_V1 = _t(
    "taper.approved",
    ("Bundle", "CarePlan"),
    "The GP approved a taper step. data: a Bundle with the taper CarePlan (status active) and its steps' "
    "MedicationRequests, the approved one's status completed (its order is the activity's outcomeReference).",
)
TAPER_DECLINED_V1 = _t(
    "taper.declined",
    ("Bundle", "CarePlan", "Task"),
    "The GP declined a taper step. data: a Bundle with the taper CarePlan (status revoked) and its steps' "
    "MedicationRequests, the declined one's status cancelled with statusReason (code declined, the GP's "
    "words). A bare CarePlan or the approval Task (status rejected) is the form before the Bundle.",
)
TAPER_PAUSED_V1 = _t(
    "taper.paused",
    ("Bundle", "CarePlan"),
    "The taper was paused (e.g. withdrawal symptoms). data: a Bundle with the taper CarePlan (status "
    "on-hold, note why) and its steps' MedicationRequests (re-planned ones proposed, replaced ones "
    "cancelled).",
)
PRESCRIPTION_CHANGED_V1 = _t(
    "prescription.changed",
    ("MedicationRequest", "Bundle"),
    "A GP-approved prescription change to write back to the GP system. data: the new MedicationRequest, "
    "or a Bundle with it and the MedicationRequest it replaces.",
)
GP_TASK_REQUESTED_V1 = _t(
    "gp.task-requested",
    ("Task",),
    "Something for the GP practice to act on (approve, review, a plan summary). data: the Task.",
)
GP_TASK_COMPLETED_V1 = _t(
    "gp.task-completed",
    ("Task",),
    "The GP practice acted on a Task we requested (approved, declined, done). data: the Task, same "
    "identifier as requested, status completed or rejected, businessStatus and statusReason.",
)
GP_RECORD_READ_REQUESTED_V1 = _t(
    "gp.record-read-requested",
    ("Task",),
    "Read the patient's GP record again on a given day (a follow-up review after discharge). data: the "
    "follow-up Task: ``for`` the Patient, ``executionPeriod.start`` the day the record is to be read (not "
    "before); medication.list-synced follows the read.",
)
FOLLOW_UP_RECORDED_V1 = _t(
    "follow-up.recorded",
    ("Task",),
    "A follow-up review after discharge was recorded (the GP record read again, the OME recomputed, "
    "whether the dose held). data: the completed follow-up Task: ``for`` the Patient, ``input`` discharged "
    "(date) and months-after-discharge, ``lastModified`` when recorded, ``output`` the dose-held "
    "Observation; careplan records the PROMs as of that day from it.",
)

EVENT_TYPES: Mapping[str, EventType] = MappingProxyType(
    {
        t.type: t
        for t in (
            REFERRAL_RECEIVED_V1,
            REFERRAL_ACCEPTED_V1,
            REFERRAL_REJECTED_V1,
            PATIENT_INVITED_V1,
            PATIENT_ENROLLED_V1,
            PATIENT_DISCHARGED_V1,
            CAREPLAN_UPDATED_V1,
            MEDICATION_LIST_SYNCED_V1,
            MEDREVIEW_COMPLETED_V1,
            TAPER_PROPOSED_V1,
            TAPER_APPROVED_V1,
            TAPER_DECLINED_V1,
            TAPER_PAUSED_V1,
            PRESCRIPTION_CHANGED_V1,
            GP_TASK_REQUESTED_V1,
            GP_TASK_COMPLETED_V1,
            GP_RECORD_READ_REQUESTED_V1,
            FOLLOW_UP_RECORDED_V1,
        )
    }
)
"""Every registered event type by its CloudEvents ``type``."""


def event_type(type_: str | EventType) -> EventType:
    """The registered :class:`EventType` for ``referral.accepted.v1`` (or the type itself)."""
    if isinstance(type_, EventType):
        return type_
    try:
        return EVENT_TYPES[type_]
    except KeyError:
        raise InvalidEnvelope(f"unknown event type {type_!r}") from None


def event_types(types: Iterable[str | EventType]) -> tuple[EventType, ...]:
    """Resolve several types, refusing unknown ones."""
    return tuple(event_type(t) for t in types)


def validate_event(event: CloudEvent) -> EventType:
    """Check ``event`` against its registered type; returns the type or raises :class:`InvalidEnvelope`."""
    registered = event_type(event.type)
    if event.resource_type not in registered.resource_types:
        raise InvalidEnvelope(
            f"{event.type} carries {'/'.join(registered.resource_types)}, not {event.resource_type}"
        )
    return registered


def new_event(
    type_: str | EventType,
    *,
    source: str,
    subject: str,
    practice: str,
    data: dict[str, Any],
    correlationid: str | None = None,
    traceparent: str | None = None,
    time: datetime | None = None,
    id: str | None = None,
) -> CloudEvent:
    """Build and validate an event of a registered type (``time`` defaults to now, ``id`` to a UUID)."""
    fields: dict[str, Any] = {
        "type": event_type(type_).type,
        "source": source,
        "subject": subject,
        "practice": practice,
        "data": data,
        "correlationid": correlationid,
        # Continue the producer's trace across the bus unless the caller passed a traceparent.
        "traceparent": traceparent if traceparent is not None else inject_traceparent(),
    }
    if time is not None:
        fields["time"] = time
    if id is not None:
        fields["id"] = id
    try:
        event = CloudEvent.model_validate(fields)
    except ValueError as exc:
        raise InvalidEnvelope(validation_summary(exc)) from None
    validate_event(event)
    return event
