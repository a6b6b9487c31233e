"""One unit of work, owned by the kernel: the transaction an operation handler writes in.

The kernel opens it (``handler(call, uow)``, see ``FhirKernel.operation``), runs the handler off the event
loop, claims the caller's ``X-Request-Id`` for a writing operation, records the AuditEvent with the patient
and resource the handler named, and commits the handler's writes, Provenances and outbox events together
(or none of them). Handlers never open a connection, a transaction or a thread themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from shared.contracts import CloudEvent, EventType, event_source, new_event
from shared.core.errors import PreconditionFailed
from shared.core.principal import Principal, Tenancy
from shared.fhir import idempotency
from shared.fhir.audit import RequestContext, provenance
from shared.fhir.store import SearchResult, new_id, now_instant
from shared.fhir.store_write import stamp
from shared.fhir.tenancy import owner_practice, practice_of
from shared.outbox import record_event

if TYPE_CHECKING:
    from shared.fhir.kernel import FhirKernel, OperationCall

__all__ = ["ConsumerHandler", "UnitOfWork", "service_actor"]


def service_actor(service: str, event: CloudEvent, client_id: str | None = None) -> RequestContext:
    """Who writes what a consumed event causes: the service itself (``client_id``, default its name), on
    behalf of the event's practice (its Provenances name it; the event's id and correlation id stand for
    the request's)."""
    principal = Principal(
        client_id=client_id or service, practice=event.practice, role="service", scopes=frozenset()
    )
    return RequestContext(principal, event.id, event.correlationid or event.id, service, False)


class UnitOfWork:
    """Reads and writes of one handler call in the kernel's open transaction.

    ``tenants`` bound every read and update (the caller's practices); ``practice`` owns what is created
    and the Provenances written (default the caller's own; ``owned_by`` files them under another of the
    caller's practices, e.g. the patient's). ``conn`` is the transaction's connection, for the service's
    own repository functions: the unit of work, not the handler, opens, commits and closes it.

    ``batched``: new resources are kept until `flush` (the kernel flushes before it commits) and then
    inserted together, every version of each in its history (a resource created and then updated in
    the same unit is one insert of both versions), with the operation's AuditEvent: three multi-row
    statements instead of a few per resource and version. `read` and `search` see what is kept; a
    service's own query of the resource tables goes through its repository, which flushes first.
    """

    def __init__(
        self,
        kernel: FhirKernel,
        conn: Connection,
        ctx: RequestContext,
        *,
        call: OperationCall | None = None,
        tenants: Tenancy | None = None,
        practice: str | None = None,
        now: datetime | None = None,
        batched: bool = False,
    ) -> None:
        self.kernel = kernel
        self._conn = conn
        self.ctx = ctx
        self._call = call
        self.tenants: Tenancy = tenants if tenants is not None else ctx.tenants
        self.practice: str = practice or ctx.principal.practice
        self.now: datetime = now or kernel.clock()
        self.events: list[CloudEvent] = []
        self.after_commit: list[Callable[[Any], Any]] = []
        self.batched = batched
        # Batched: the new resources not inserted yet, by (type, id): the practice that owns each and
        # its versions so far. Shared by `owned_by` copies (one transaction, one batch).
        self._pending: dict[tuple[str, str], tuple[str, list[dict[str, Any]]]] = {}
        # Every version written with ``activity=None`` since the last `sign`.
        self._unsigned: list[dict[str, Any]] = []

    @classmethod
    def for_event(
        cls, kernel: FhirKernel, conn: Connection, event: CloudEvent, *, client_id: str | None = None
    ) -> UnitOfWork:
        """The unit of work of a consumer applying ``event`` in the inbox's transaction: the service
        (``client_id``, default its name) acts for the event's practice only."""
        actor = service_actor(kernel.service, event, client_id)
        return cls(kernel, conn, actor, tenants=Tenancy({event.practice}))

    @property
    def pending(self) -> bool:
        """Whether new resources are kept, not inserted yet (see ``batched``)."""
        return bool(self._pending)

    def flush(self, *, audit: dict[str, Any] | None = None) -> None:
        """Insert the new resources kept so far (every version, with history and search index) and, when
        given, the operation's ``audit`` event (filed under the caller's practice) in the same statements.
        Nothing to do for a unit that is not batched (it wrote each resource when asked)."""
        by_practice: dict[str, list[list[dict[str, Any]]]] = {}
        for practice, versions in self._pending.values():
            by_practice.setdefault(practice, []).append(versions)
        self._pending.clear()  # the same dict as `owned_by` copies
        if audit is not None:
            event = stamp({**audit, "id": new_id()}, 1, now_instant())
            by_practice.setdefault(self.ctx.principal.practice, []).append([event])
        for practice, resources in by_practice.items():
            self.kernel.store.create_many(self._conn, resources, practice=practice)

    @property
    def conn(self) -> Connection:
        """The open transaction's connection, for the service's repository (never to commit or close)."""
        return self._conn

    def owned_by(self, practice: str) -> UnitOfWork:
        """The same unit of work (same transaction, audit and events), creating for ``practice``."""
        other = UnitOfWork(
            self.kernel,
            self._conn,
            self.ctx,
            call=self._call,
            tenants=self.tenants,
            practice=practice,
            batched=self.batched,
        )
        other.now, other.events, other.after_commit = self.now, self.events, self.after_commit
        other._pending, other._unsigned = self._pending, self._unsigned
        return other

    def within(self, tenants: Tenancy) -> UnitOfWork:
        """The same unit of work (same transaction, audit and events), reading and updating only among
        ``tenants`` (say the caller's own practice of all it acts for)."""
        other = UnitOfWork(
            self.kernel, self._conn, self.ctx, call=self._call, tenants=tenants, practice=self.practice
        )
        other.now, other.events, other.after_commit = self.now, self.events, self.after_commit
        return other

    def then(self, step: Callable[[Any], Any]) -> None:
        """Turn the handler's result into the answer once the transaction committed (still off the event
        loop, outside the transaction): rendering a PDF or a chart should not hold the database."""
        self.after_commit.append(step)

    # ---- the audit record ---------------------------------------------------------------------
    @property
    def patient(self) -> str | None:
        return self._call.patient if self._call is not None else None

    @patient.setter
    def patient(self, reference: str | None) -> None:
        """The patient this call's AuditEvent names (``Patient/<id>``): set it before anything can fail,
        so that a refusal is audited against the patient too."""
        if self._call is not None:
            self._call.patient = reference or None

    @property
    def resource_id(self) -> str | None:
        return self._call.resource_id if self._call is not None else None

    @resource_id.setter
    def resource_id(self, resource_id: str | None) -> None:
        """The resource this call's AuditEvent names (an instance operation's id by default)."""
        if self._call is not None:
            self._call.resource_id = resource_id

    # ---- reads --------------------------------------------------------------------------------
    def read(self, reference: str, resource_id: str | None = None) -> dict[str, Any]:
        """``read("Patient/1")`` or ``read("Patient", "1")``, within the caller's tenancy (404 otherwise)."""
        if resource_id is None:
            resource_type, _, resource_id = reference.partition("/")
        else:
            resource_type = reference
        if kept := self._pending.get((resource_type, resource_id)):
            return kept[1][-1]
        return self.kernel.store.read(self._conn, resource_type, resource_id, tenants=self.tenants)

    def practice_of(self, reference: str) -> str | None:
        """The practice a stored resource ("Type/id") is filed under, among this unit's tenants (``None``
        when none of them holds it): a write about it is filed there (``owned_by``)."""
        return practice_of(self._conn, self.tenants, reference)

    def vread(self, reference: str, version: int) -> dict[str, Any]:
        """Version ``version`` of ``Type/id`` within the caller's tenancy (404 otherwise)."""
        resource_type, _, resource_id = reference.partition("/")
        return self.kernel.store.vread(self._conn, resource_type, resource_id, version, tenants=self.tenants)

    def search(
        self, resource_type: str, params: Iterable[tuple[str, str]], *, count: int | None = None
    ) -> SearchResult:
        """A search by the kernel's parameters within the caller's tenancy (what is kept included)."""
        self.flush()
        request = self.kernel.store.query(resource_type, params, count=count)
        return self.kernel.store.search(self._conn, request, tenants=self.tenants)

    # ---- writes -------------------------------------------------------------------------------
    def create(
        self,
        resource: dict[str, Any],
        *,
        resource_id: str | None = None,
        activity: str | None = "CREATE",
    ) -> dict[str, Any]:
        """Store a new resource for ``practice`` (kept until `flush` when ``batched``) and, unless
        ``activity`` is None, its Provenance (else the version waits for `sign`)."""
        if self.batched:
            stored = stamp({**resource, "id": resource_id or new_id()}, 1, now_instant())
            self._pending[(stored["resourceType"], stored["id"])] = (self.practice, [stored])
        else:
            store = self.kernel.store
            stored = store.create(self._conn, resource, practice=self.practice, resource_id=resource_id)
        self._written(stored, activity)
        return stored

    def update(
        self,
        resource: dict[str, Any],
        *,
        if_match: int | None = None,
        create: bool = True,
        activity: str | None = "UPDATE",
    ) -> dict[str, Any]:
        """Replace a resource the caller may see (it keeps its owner), or create it with its id under
        ``practice``; ``if_match`` is the version it must still be (412 otherwise, nothing written).
        Unless ``activity`` is None, a Provenance (``CREATE`` when it was created)."""
        kept = self._pending.get((resource["resourceType"], resource["id"]))
        if kept is not None:  # new in this unit: one more version of what will be inserted
            version = int(kept[1][-1]["meta"]["versionId"])
            if if_match is not None and if_match != version:
                raise PreconditionFailed(
                    f"{resource['resourceType']}/{resource['id']} changed in this request"
                )
            stored = stamp(resource, version + 1, now_instant())
            kept[1].append(stored)
            self._written(stored, activity)
            return stored
        stored, created = self.kernel.store.update(
            self._conn,
            resource,
            tenants=self.tenants | {self.practice},
            practice=self.practice,
            if_match=if_match,
            create=create,
        )
        self._written(stored, "CREATE" if created and activity is not None else activity)
        return stored

    def replace(self, resource: dict[str, Any], *, activity: str | None = "UPDATE") -> dict[str, Any]:
        """Update a resource read in this unit, refusing (412) if it changed since."""
        return self.update(resource, if_match=int(resource["meta"]["versionId"]), activity=activity)

    def _written(self, stored: dict[str, Any], activity: str | None) -> None:
        if activity is not None:
            self.write_provenance(stored, activity)
        else:
            self._unsigned.append(stored)

    def sign(self, activity: str = "UPDATE") -> None:
        """One Provenance of ``activity`` for every version written with ``activity=None`` since the last
        `sign` (its target lists each version; filed under this unit's practice): a workflow step that
        writes several resources is one act of the caller."""
        if not self._unsigned:
            return
        record = provenance(self.ctx, self._unsigned[-1], activity)
        record["target"] = [
            {"reference": f"{r['resourceType']}/{r['id']}/_history/{r['meta']['versionId']}"}
            for r in self._unsigned
        ]
        self.create(record, activity=None)
        self._unsigned.clear()

    def delete(self, reference: str) -> int:
        self.flush()
        resource_type, _, resource_id = reference.partition("/")
        return self.kernel.store.delete(self._conn, resource_type, resource_id, tenants=self.tenants)

    def write_provenance(
        self, resource: dict[str, Any], activity: str, *, practice: str | None = None
    ) -> None:
        """A Provenance of the caller's ``activity`` on ``resource``, filed under ``practice`` (default
        the practice that owns the resource's patient among this unit of work's tenants, see
        ``owner_practice``; this unit of work's own when the patient is enrolled there or unknown)."""
        record = provenance(self.ctx, resource, activity)
        owner = practice or owner_practice(self._conn, self.tenants, self.practice, resource)
        if self.batched:
            # (Not one assignment with ``record.setdefault("id", ...)`` as its key: the value, the
            # stamped copy, is made before the key, and was kept without the id.)
            stored = stamp({**record, "id": record.get("id") or new_id()}, 1, now_instant())
            self._pending[("Provenance", stored["id"])] = (owner, [stored])
        else:
            self.kernel.store.create(self._conn, record, practice=owner)

    # ---- the request ------------------------------------------------------------------------
    def remember_location(self, location: str) -> None:
        """Where this writing operation's result lives (``Type/id``, relative to the FHIR base): a repeat
        of its ``X-Request-Id`` is answered 409 with this as its ``Location``."""
        idempotency.remember_location(self._conn, self.ctx, location)

    # ---- events -------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """The ``source`` of the events this service publishes."""
        return event_source(self.kernel.service)

    def emit(
        self,
        event: CloudEvent | EventType | str,
        subject: str | None = None,
        data: dict[str, Any] | None = None,
        *,
        practice: str | None = None,
    ) -> CloudEvent:
        """Put an event in the outbox of this transaction: published only if the effect commits.

        Either a built ``CloudEvent``, or its type, subject and data (for ``practice``, default this unit
        of work's; the caller's correlation id)."""
        if not isinstance(event, CloudEvent):
            if subject is None or data is None:
                raise TypeError("emit(type, subject, data) needs a subject and data")
            event = new_event(
                event,
                source=self.source,
                subject=subject,
                practice=practice or self.practice,
                data=data,
                correlationid=self.ctx.correlation_id,
            )
        record_event(self._conn, event)
        self.events.append(event)
        return event


ConsumerHandler = Callable[[CloudEvent, UnitOfWork], None]
"""A consumer: applies one event through the unit of work of the inbox's transaction (its effects, the
inbox record and any events it emits commit together); raising means "retry later"."""
