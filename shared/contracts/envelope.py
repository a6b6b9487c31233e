"""The CloudEvents 1.0 envelope every event travels in.

Structured JSON mode: one JSON object with the context attributes at the top level and ``data`` a FHIR R4
resource or Bundle (``datacontenttype: application/fhir+json``). Three extension attributes:
``correlationid`` (the BaRS ``X-Correlation-Id``), ``traceparent`` (W3C trace context) and ``practice``
(the ODS code of the owning GP practice: the tenant; consumers must keep data within it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CLOUDEVENTS_JSON",
    "FHIR_JSON",
    "CloudEvent",
    "InvalidEnvelope",
    "event_source",
    "from_json",
    "new_event_id",
    "to_json",
    "validation_summary",
]

FHIR_JSON = "application/fhir+json"
CLOUDEVENTS_JSON = "application/cloudevents+json"

TYPE_PATTERN = r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*\.v[1-9][0-9]*$"
TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
ODS_CODE_PATTERN = r"^[A-Z0-9]{3,12}$"


class InvalidEnvelope(ValueError):
    """An event that does not satisfy the envelope or its type's contract."""


def event_source(service: str) -> str:
    """The ``source`` of the events ``service`` publishes (``/painreview/referral``)."""
    return f"/painreview/{service}"


def new_event_id() -> str:
    """A fresh event id (UUID 4): also the outbox key, the inbox key and the NATS ``Nats-Msg-Id``."""
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event whose ``data`` is a FHIR R4 resource or Bundle (a JSON object)."""

    model_config = ConfigDict(frozen=True, extra="allow", title="CloudEvent")

    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents specification version.")
    id: str = Field(
        default_factory=new_event_id,
        min_length=1,
        max_length=64,
        description="Unique per event; repeats of the same id are the same event (deduplicated).",
    )
    source: str = Field(
        min_length=1, max_length=256, description="URI-reference of the producer, e.g. /painreview/referral."
    )
    type: str = Field(
        pattern=TYPE_PATTERN, max_length=128, description="Versioned event type, e.g. referral.accepted.v1."
    )
    subject: str = Field(
        min_length=1,
        max_length=256,
        description="The FHIR resource the event is about (e.g. ServiceRequest/abc); the ordering key.",
    )
    time: AwareDatetime = Field(default_factory=_now, description="When the state change happened (UTC).")
    datacontenttype: Literal["application/fhir+json"] = Field(default="application/fhir+json")
    correlationid: str | None = Field(
        default=None, max_length=128, description="BaRS X-Correlation-Id of the request that caused this."
    )
    traceparent: str | None = Field(
        default=None, pattern=TRACEPARENT_PATTERN, description="W3C trace context of the producer."
    )
    practice: str = Field(
        pattern=ODS_CODE_PATTERN,
        description="ODS code of the GP practice that owns the patient: the tenant of this event.",
    )
    data: dict[str, Any] = Field(description="A FHIR R4 resource or Bundle (JSON).")

    @field_validator("data")
    @classmethod
    def _is_fhir_resource(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("resourceType"), str):
            raise ValueError("data must be a FHIR resource: a JSON object with a resourceType")
        return value

    @property
    def resource_type(self) -> str:
        """The FHIR resourceType of ``data``."""
        return str(self.data["resourceType"])


def to_json(event: CloudEvent) -> bytes:
    """Structured-mode CloudEvents JSON (UTF-8); absent optional attributes are left out."""
    return event.model_dump_json(exclude_none=True).encode()


def from_json(raw: bytes | str) -> CloudEvent:
    """Parse structured-mode CloudEvents JSON; raises :class:`InvalidEnvelope` when it is not one."""
    try:
        return CloudEvent.model_validate_json(raw)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise InvalidEnvelope(validation_summary(exc)) from None


def validation_summary(exc: ValueError) -> str:
    """Name the fields a validation error is about, never their values (they may be patient data)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in errors()})
        return "invalid CloudEvent: " + ", ".join(fields)
    return "invalid CloudEvent"
