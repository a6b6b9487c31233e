"""The one small interface every GP system adapter implements, and what its calls can fail with.

Errors, as a tree::

    DeliveryError
    ├── TransientDeliveryError   timeouts, connection failures, 5xx, 429: retry later; counts against
    │   │                        the practice's circuit breaker
    │   └── NotReady             the patient or practice is not known here yet: retry, breaker untouched
    └── PermanentDeliveryError   the GP system refused the message (4xx), the record is not the patient's,
                                 the endpoint is not allowed: retrying cannot help; dead-letter it now
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "DeliveryError",
    "Document",
    "DocumentChannel",
    "GpSystemAdapter",
    "NotReady",
    "PermanentDeliveryError",
    "TaskDecision",
    "TransientDeliveryError",
]


class DeliveryError(Exception):
    """A call to a GP system (or MESH) that did not succeed; the message never holds patient data."""


class TransientDeliveryError(DeliveryError):
    pass


class NotReady(TransientDeliveryError):
    """Our side is not ready (the patient or the practice is not known yet): retry later, but this says
    nothing about the GP system's health, so the circuit breaker does not count it."""


class PermanentDeliveryError(DeliveryError):
    pass


@dataclass(frozen=True)
class TaskDecision:
    """The GP's decision on a Task, read back from the GP system."""

    status: Literal["completed", "rejected"]
    business_status: Literal["approved", "declined"]
    reason: str | None = None
    decided_by: str | None = None
    output: tuple[dict[str, Any], ...] = field(default=())


@dataclass(frozen=True)
class Document:
    """A document for the practice's MESH mailbox (plan summary, letter)."""

    filename: str
    content_type: str
    content: bytes
    subject: str
    workflow_id: str


class DocumentChannel(Protocol):
    """Where documents go: MESH in every mode (``mesh.py`` beside this module), a list in unit tests."""

    async def send(self, mailbox: str, document: Document, *, idempotency_key: str) -> str:
        """Send ``document`` to ``mailbox`` once per ``idempotency_key``; returns the message id."""
        ...


class GpSystemAdapter(Protocol):
    """Read the record, write a task, write a prescription change, send a document.

    Every write carries ``idempotency_key`` (one per event and purpose) to the far end, so a retry of a
    write that did arrive is recognised there and applied once.
    """

    supplier: str

    async def read_record(self, nhs_number: str, *, trace_id: str) -> dict[str, Any]:
        """The GP Connect structured record (STU3 collection Bundle) with medications and problems."""
        ...

    async def write_task(self, task: dict[str, Any], nhs_number: str, *, idempotency_key: str) -> str:
        """Put an R4 Task into the practice's workflow; returns the GP system's id for it."""
        ...

    async def task_decision(self, remote_id: str) -> TaskDecision | None:
        """The GP's decision on a task written earlier, or None while it is still pending."""
        ...

    async def write_prescription_change(
        self, change: dict[str, Any], nhs_number: str, *, idempotency_key: str
    ) -> str:
        """Apply a GP-approved prescription change (the ``prescription.changed`` Bundle); returns the
        GP system's id of the new prescription."""
        ...

    async def send_document(self, mailbox: str, document: Document, *, idempotency_key: str) -> str:
        """Send a document to the practice (MESH); returns the message id."""
        ...
