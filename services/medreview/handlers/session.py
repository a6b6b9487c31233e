"""One unit of work: the open transaction, who acts for which practice, and the events to record with it.

The request scope (an operation's ``call.transaction()``, a write hook, the inbox) owns the transaction and
commits; handlers only write through a :class:`Session`, which also leaves a Provenance for every write and
puts events in the outbox of the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from services.medreview.repository import MedreviewRepository
from shared.contracts import CloudEvent, EventType, new_event
from shared.core.principal import Principal, Tenancy
from shared.fhir import RequestContext, provenance
from shared.outbox import record_event

__all__ = ["APPROVAL_LEAD_DAYS", "SOURCE", "Session", "service_actor"]

SOURCE = "/painreview/medreview"
SERVICE_CLIENT = "medreview"
APPROVAL_LEAD_DAYS = 7
"""Default days before a step's date its approval Task reaches the practice (MEDREVIEW_APPROVAL_LEAD_DAYS)."""


def service_actor(practice: str, event_id: str, correlation_id: str | None) -> RequestContext:
    """The actor of writes a consumed event causes: medreview itself, on behalf of the event's practice."""
    principal = Principal(client_id=SERVICE_CLIENT, practice=practice, role="service", scopes=frozenset())
    return RequestContext(principal, event_id, correlation_id or event_id, SERVICE_CLIENT, False)


@dataclass
class Session:
    """``tenants`` bound every read; ``practice`` owns what is created (updates keep their owner)."""

    conn: Connection
    repo: MedreviewRepository
    actor: RequestContext
    tenants: Tenancy
    practice: str
    now: datetime
    correlation_id: str | None = None
    approval_lead_days: int = APPROVAL_LEAD_DAYS
    """A step's approval Task is for the practice this many days before the step's date."""

    @classmethod
    def for_request(
        cls,
        conn: Connection,
        repo: MedreviewRepository,
        ctx: RequestContext,
        now: datetime | None = None,
        *,
        approval_lead_days: int = APPROVAL_LEAD_DAYS,
    ) -> Session:
        return cls(
            conn,
            repo,
            ctx,
            ctx.tenants,
            ctx.principal.practice,
            now or datetime.now(UTC),
            ctx.correlation_id,
            approval_lead_days,
        )

    @classmethod
    def for_event(
        cls,
        conn: Connection,
        repo: MedreviewRepository,
        event: CloudEvent,
        now: datetime | None = None,
        *,
        approval_lead_days: int = APPROVAL_LEAD_DAYS,
    ) -> Session:
        actor = service_actor(event.practice, event.id, event.correlationid)
        tenants = Tenancy({event.practice})  # the service acting for the event's practice
        now = now or datetime.now(UTC)
        return cls(conn, repo, actor, tenants, event.practice, now, event.correlationid, approval_lead_days)

    def owned_by(self, practice: str) -> Session:
        """The same unit of work creating resources for ``practice`` (one of the tenants)."""
        return replace(self, practice=practice)

    # ---- writes -------------------------------------------------------------------------------
    def create(self, resource: dict[str, Any], resource_id: str | None = None) -> dict[str, Any]:
        stored = self.repo.store.create(self.conn, resource, practice=self.practice, resource_id=resource_id)
        self._provenance(stored, "CREATE")
        return stored

    def put(self, resource: dict[str, Any], *, if_match: int | None = None) -> dict[str, Any]:
        """Update (or create with its id) a resource; its history keeps every version. ``if_match``: the
        version it must still be (412 ``PreconditionFailed`` otherwise, nothing written)."""
        stored, created = self.repo.store.update(
            self.conn,
            resource,
            tenants=self.tenants | {self.practice},
            practice=self.practice,
            if_match=if_match,
        )
        self._provenance(stored, "CREATE" if created else "UPDATE")
        return stored

    def delete(self, reference: str) -> None:
        resource_type, _, resource_id = reference.partition("/")
        self.repo.store.delete(self.conn, resource_type, resource_id, tenants=self.tenants)

    def _provenance(self, stored: dict[str, Any], activity: str) -> None:
        record = provenance(self.actor, stored, activity)
        self.repo.store.create(self.conn, record, practice=self.practice)

    # ---- events -------------------------------------------------------------------------------
    def emit(self, event_type: EventType, subject: str, data: dict[str, Any]) -> CloudEvent:
        """Record an event in the outbox of this transaction, for this practice."""
        event = new_event(
            event_type,
            source=SOURCE,
            subject=subject,
            practice=self.practice,
            data=data,
            correlationid=self.correlation_id,
        )
        record_event(self.conn, event)
        return event
