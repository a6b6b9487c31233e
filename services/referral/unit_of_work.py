"""One transaction's writes: resources through the kernel store, events into the outbox, one Provenance.

Handlers never commit: the request (or operation) owns the transaction and hands its connection
here, so resources, events, the audit record and the X-Request-Id claim commit or vanish together.

New resources are kept until `flush` (or `finish`) and then inserted together, every version of
each in its history (a new referral's Task is written received, triaged and decided in one go),
with the Provenance and, for an operation that hands it over, the AuditEvent: three multi-row
statements instead of a few per resource and version. Reads see what is kept; queries that go to
the database directly must `flush` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from services.referral import repository
from shared.contracts import EventType, new_event
from shared.core.principal import Tenancy
from shared.fhir import (
    PreconditionFailed,
    RequestContext,
    ResourceStore,
    new_id,
    now_instant,
    provenance,
    stamp,
)
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
    pending: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    messages: dict[str, repository.HeldMessage] = field(default_factory=dict)  # by ServiceRequest id

    @property
    def tenants(self) -> Tenancy:
        return self.ctx.tenants

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        if versions := self.pending.get((resource_type, resource_id)):
            return versions[-1]
        return self.store.read(self.conn, resource_type, resource_id, tenants=self.tenants)

    def create(self, resource: dict[str, Any], resource_id: str | None = None) -> dict[str, Any]:
        """A new resource as version 1 (inserted at the next `flush`)."""
        stored = stamp({**resource, "id": resource_id or new_id()}, 1, now_instant())
        self.pending[(stored["resourceType"], stored["id"])] = [stored]
        self.written.append(stored)
        return stored

    def update(self, resource: dict[str, Any], *, if_match: int | None = None) -> dict[str, Any]:
        """Replace a resource (optimistic: ``if_match`` is the version read, 412 if it moved on)."""
        versions = self.pending.get((resource["resourceType"], resource["id"]))
        if versions is not None:
            version = int(versions[-1]["meta"]["versionId"])
            if if_match is not None and if_match != version:
                raise PreconditionFailed(
                    f"{resource['resourceType']}/{resource['id']} changed in this request"
                )
            stored = stamp(resource, version + 1, now_instant())
            versions.append(stored)
        else:
            stored, _created = self.store.update(
                self.conn, resource, tenants=self.tenants, practice=self.practice, if_match=if_match
            )
        self.written.append(stored)
        return stored

    def replace(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Update a resource read in this transaction, refusing if it changed since."""
        return self.update(resource, if_match=int(resource["meta"]["versionId"]))

    def flush(self, *, audit: dict[str, Any] | None = None) -> None:
        """Insert the new resources kept so far (every version, with history and search index), and
        with them the operation's ``audit`` event when given (filed under the caller's practice)."""
        new, self.pending = list(self.pending.values()), {}
        if audit is not None:
            event = [stamp({**audit, "id": new_id()}, 1, now_instant())]
            caller = self.ctx.principal.practice
            if caller == self.practice:
                new.append(event)
            else:
                self.store.create_many(self.conn, [event], practice=caller)
        if new:
            self.store.create_many(self.conn, new, practice=self.practice)

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
        """`sign` then `flush`."""
        self.sign(activity)
        self.flush()

    def sign(self, activity: str = "UPDATE") -> None:
        """One Provenance for every version written since (the kernel writes one per REST write)."""
        if self.written:
            record = provenance(self.ctx, self.written[-1], activity)
            record["target"] = [
                {"reference": f"{r['resourceType']}/{r['id']}/_history/{r['meta']['versionId']}"}
                for r in self.written
            ]
            self.create(record)
            self.written = []
