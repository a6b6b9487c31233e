"""An in-memory GP system for unit tests: the same interface, no network, failures on demand."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from services.gpconnect.delivery.adapters.base import (
    DeliveryError,
    Document,
    TaskDecision,
    TransientDeliveryError,
)

__all__ = ["FakeDocumentChannel", "FakeGpSystem"]


@dataclass
class FakeDocumentChannel:
    sent: dict[str, tuple[str, Document]] = field(default_factory=dict)

    async def send(self, mailbox: str, document: Document, *, idempotency_key: str) -> str:
        self.sent.setdefault(idempotency_key, (mailbox, document))
        return f"MSG-{list(self.sent).index(idempotency_key) + 1}"


@dataclass
class FakeGpSystem:
    """Writes are applied once per idempotency key, as a well-behaved GP system would.

    ``failures`` is consumed one per call: each item is raised instead of answering (None = answer).
    """

    supplier: str = "fake"
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    decisions: dict[str, TaskDecision] = field(default_factory=dict)
    prescriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: FakeDocumentChannel = field(default_factory=FakeDocumentChannel)
    failures: deque[DeliveryError | None] = field(default_factory=deque)
    lost_answers: int = 0
    """Writes that are applied but whose answer is lost (a timeout after the far end committed)."""
    calls: int = 0
    applied: int = 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.failures:
            failure = self.failures.popleft()
            if failure is not None:
                raise failure

    async def read_record(self, nhs_number: str, *, trace_id: str) -> dict[str, Any]:
        self._maybe_fail()
        if nhs_number not in self.records:
            raise TransientDeliveryError("no such patient (yet)")
        return self.records[nhs_number]

    def _answer(self) -> None:
        if self.lost_answers:
            self.lost_answers -= 1
            raise TransientDeliveryError("ReadTimeout calling the GP system")

    async def write_task(self, task: dict[str, Any], nhs_number: str, *, idempotency_key: str) -> str:
        self._maybe_fail()
        if idempotency_key not in self.tasks:
            self.applied += 1
            self.tasks[idempotency_key] = {**task, "nhs_number": nhs_number}
        self._answer()
        return f"T-{idempotency_key}"

    async def task_decision(self, remote_id: str) -> TaskDecision | None:
        self._maybe_fail()
        return self.decisions.get(remote_id)

    async def write_prescription_change(
        self, change: dict[str, Any], nhs_number: str, *, idempotency_key: str
    ) -> str:
        self._maybe_fail()
        if idempotency_key not in self.prescriptions:
            self.applied += 1
            self.prescriptions[idempotency_key] = {**change, "nhs_number": nhs_number}
        self._answer()
        return f"P-{idempotency_key}"

    async def send_document(self, mailbox: str, document: Document, *, idempotency_key: str) -> str:
        self._maybe_fail()
        return await self.documents.send(mailbox, document, idempotency_key=idempotency_key)
