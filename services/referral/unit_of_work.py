"""One transaction's writes: resources through the kernel store, events into the outbox, one Provenance.

Handlers never commit: the request (or operation) owns the transaction and hands its connection
here, so resources, events, the audit record and the X-Request-Id claim commit or vanish together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from shared.contracts import EventType, new_event
from shared.fhir import RequestContext, ResourceStore
from shared.fhir.audit import provenance
from shared.outbox import record_event

__all__ = ["SOURCE", "UnitOfWork"]

SOURCE = "/painreview/referral"


@dataclass
class UnitOfWork:
    conn: Connection
    store: ResourceStore
    ctx: RequestContext
    practice: str  # the practice that owns what is written (the referral's, not always the caller's)
    written: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tenants(self) -> frozenset[str]:
        return self.ctx.tenants

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        return self.store.read(self.conn, resource_type, resource_id, tenants=self.tenants)

    def create(self, resource: dict[str, Any], resource_id: str | None = None) -> dict[str, Any]:
        stored = self.store.create(self.conn, resource, practice=self.practice, resource_id=resource_id)
        self.written.append(stored)
        return stored

    def update(self, resource: dict[str, Any], *, if_match: int | None = None) -> dict[str, Any]:
        """Replace a resource (optimistic: ``if_match`` is the version read, 412 if it moved on)."""
        stored, _created = self.store.update(
            self.conn, resource, tenants=self.tenants, practice=self.practice, if_match=if_match
        )
        self.written.append(stored)
        return stored

    def replace(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Update a resource read in this transaction, refusing if it changed since."""
        return self.update(resource, if_match=int(resource["meta"]["versionId"]))

    def event(self, event_type: EventType, subject: str, data: dict[str, Any]) -> None:
        record_event(
            self.conn,
            new_event(
                event_type,
                source=SOURCE,
                subject=subject,
                practice=self.practice,
                data=data,
                correlationid=self.ctx.correlation_id,
            ),
        )

    def finish(self, activity: str = "UPDATE") -> None:
        """One Provenance for everything written here (the kernel writes one per REST write)."""
        if not self.written:
            return
        record = provenance(self.ctx, self.written[-1], activity)
        record["target"] = [
            {"reference": f"{r['resourceType']}/{r['id']}/_history/{r['meta']['versionId']}"}
            for r in self.written
        ]
        self.store.create(self.conn, record, practice=self.practice)
        self.written = []
