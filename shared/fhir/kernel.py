"""The FHIR REST kernel: one instance per service, declaring the resources and operations it serves.

It builds the routes (create, read, vread, update, delete, history, search, operations), enforces
authentication, scopes and practice isolation, writes the audit trail, and generates the
CapabilityStatement from exactly what it routes.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal, Protocol

import anyio
from fastapi import APIRouter, Request
from sqlalchemy import Connection, Engine

from shared.contracts import CloudEvent
from shared.core.errors import (
    ClientThrottled,
    Duplicate,
    FhirError,
    Forbidden,
    PayloadTooLarge,
    RefusalsThrottled,
    TooManyRequests,
    Unauthorized,
)
from shared.core.principal import Interaction, Principal
from shared.fhir import idempotency
from shared.fhir.audit import (
    AuditRecord,
    RequestContext,
    audit_event,
    provenance,
    record_audit,
    record_unauthenticated_audit,
    refusal_category,
    unauthenticated_audit_event,
)
from shared.fhir.capability import capability_statement
from shared.fhir.http import insufficient_scope
from shared.fhir.jsonio import check_media_type, loads
from shared.fhir.models import validate_resource
from shared.fhir.searchparams import SearchType
from shared.fhir.store import ResourceStore
from shared.fhir.tenancy import owner_practice
from shared.fhir.unit_of_work import ConsumerHandler, UnitOfWork
from shared.fhir.values import Parameters, check_nhs_numbers

__all__ = [
    "Authenticator",
    "FhirKernel",
    "Operation",
    "OperationCall",
    "OperationHandler",
    "Preparer",
    "RateLimiter",
    "ResourceConfig",
    "UnitHandler",
    "utc_now",
]


def utc_now() -> datetime:
    """The system clock (UTC): a kernel's default ``clock``."""
    return datetime.now(UTC)


INTERACTION_CODES = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search-type"}
DEFAULT_INTERACTIONS = frozenset(
    {"read", "vread", "update", "delete", "history-instance", "search-type", "create"}
)


class Authenticator(Protocol):
    async def authenticate(self, request: Request) -> Principal: ...


class RateLimiter(Protocol):
    def check(self, client_id: str) -> int | None:
        """Count one request (raise ``TooManyRequests`` over the limit); may return how many earlier
        429s were not audited (``ClientThrottled``), for this request's AuditEvent to carry."""
        ...


@dataclass(frozen=True)
class ResourceConfig:
    type: str
    interactions: frozenset[str] = DEFAULT_INTERACTIONS
    documentation: str = ""
    on_write: WriteHook | None = None


@dataclass
class OperationCall:
    """What an operation handler receives."""

    kernel: FhirKernel
    ctx: RequestContext
    request: Request
    body: Any
    resource_id: str | None
    operation: Operation
    audited: bool = False
    patient: str | None = None
    claimed: bool = False
    input: Any = None
    """What the operation's ``prepare`` step made of the request, before its transaction."""

    @cached_property
    def parameters(self) -> Parameters:
        """The body read as ``Parameters``, once (a 400 naming what is wrong when it is not one); an
        operation called without a body has no parameters."""
        return Parameters(self.body)

    @property
    def writes(self) -> bool:
        """An operation declared with a create, update or delete scope changes something, and so does
        one called with a method it declares as writing (a GET|POST operation whose POST changes)."""
        op = self.operation
        return op.scope[1] in WRITE_INTERACTIONS or self.request.method in op.write_methods

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A transaction that claims the caller's ``X-Request-Id`` for a writing operation (a repeat is
        a 409 and changes nothing; the claim commits or rolls back with the effect) and records this
        operation's AuditEvent (unless `audit_event` gave it to the handler to store with its own
        writes). Handlers never claim the id themselves."""
        with self.kernel.engine.begin() as conn:
            if self.writes and not self.claimed:
                idempotency.claim(conn, self.ctx)
            yield conn
            if not self.audited:
                self.kernel.audit(conn, self.ctx, self._record())
        # Only once committed: a transaction that rolled back left the id free for the next one.
        self.audited = True
        self.claimed = self.claimed or self.writes

    def audit_event(self) -> dict[str, Any]:
        """This operation's AuditEvent, for a handler that stores it in its `transaction` together
        with its own resources (filed under the caller's practice); the transaction then adds none."""
        self.audited = True
        return audit_event(self.ctx, self._record())

    def _record(self, outcome: str = "0", text: str | None = None) -> AuditRecord:
        return AuditRecord(
            "operation",
            self.operation.resource_type or self.operation.scope[0],
            self.resource_id,
            self.patient,
            operation=self.operation.name,
            outcome=outcome,
            outcome_text=text,
        )


WRITE_INTERACTIONS: frozenset[Interaction] = frozenset({"c", "u", "d"})

OperationHandler = Callable[[OperationCall], Awaitable[Any]]
"""The older form, being retired: an ``async`` handler opening ``call.transaction()`` in a thread itself."""

UnitHandler = Callable[[OperationCall, UnitOfWork], Any]
"""An operation handler: a plain function of the call and its unit of work, returning the result (a
resource, or a ``Response``). The kernel runs it off the event loop in one transaction that claims the
caller's ``X-Request-Id`` (a writing operation), records the AuditEvent and commits the handler's writes
and outbox events together; a raise rolls all of it back (the id stays free) and is audited as a failure."""


def is_unit_handler(handler: Callable[..., Any]) -> bool:
    """A plain ``def handler(call, uow)`` (not a coroutine function of the call)."""
    call_method = getattr(type(handler), "__call__", None)  # noqa: B004 (an object with async __call__)
    if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call_method):
        return False
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 2


def unit_of_work_runner(
    handler: UnitHandler,
    *,
    prepare: Preparer | None = None,
    batched: bool = False,
    locate_repeat: UnitHandler | None = None,
) -> OperationHandler:
    """The kernel's side of ``handler(call, uow)``: a thread, ``prepare`` (outside any transaction), then
    one transaction with the claim, the handler, the flush of a ``batched`` unit and the audit."""

    def in_transaction(call: OperationCall) -> Any:
        if prepare is not None:
            call.input = prepare(call)
        try:
            with call.transaction() as conn:
                uow = UnitOfWork(call.kernel, conn, call.ctx, call=call, batched=batched)
                result = handler(call, uow)
                if uow.batched:  # the AuditEvent in the same multi-row inserts as the writes
                    uow.flush(audit=None if call.audited else call.audit_event())
        except Duplicate as repeat:
            if repeat.location is None and locate_repeat is not None:
                with call.kernel.engine.connect() as conn:  # what committed: this transaction rolled back
                    repeat.location = locate_repeat(call, UnitOfWork(call.kernel, conn, call.ctx))
            if repeat.location:  # the sender lost its answer: tell it where the original went
                repeat.headers["Location"] = f"{call.kernel.base_url(call.request)}/{repeat.location}"
            raise
        for step in uow.after_commit:
            result = step(result)
        return result

    async def run(call: OperationCall) -> Any:
        return await anyio.to_thread.run_sync(in_transaction, call)

    run.__name__ = getattr(handler, "__name__", "operation")
    run.__doc__ = handler.__doc__
    return run


Preparer = Callable[[OperationCall], Any]
"""An operation's first step, run off the event loop before its transaction opens (its result is
``call.input``): checking and parsing the request, so that a malformed one is refused (400) without
claiming its ``X-Request-Id`` and without holding a transaction while a large body streams in."""


WriteHook = Callable[[Connection, RequestContext, dict[str, Any], str], None]
"""Called after the store wrote a resource, in the same transaction, with the stored resource and the
interaction ("create", "update" or "delete"): domain rules may raise (the write is rolled back) and
record outbox events. For "delete" the resource is the last version before the delete."""


@dataclass(frozen=True)
class Operation:
    name: str
    handler: OperationHandler
    level: Literal["system", "type", "instance"]
    resource_type: str | None
    scope: tuple[str, Interaction]
    methods: tuple[str, ...] = ("POST",)
    documentation: str = ""
    streams_body: bool = False
    write_methods: tuple[str, ...] = ()


@dataclass
class FhirKernel:
    service: str
    engine: Engine
    authenticator: Authenticator
    store: ResourceStore = field(default_factory=ResourceStore)
    rate_limiter: RateLimiter | None = None
    max_body_bytes: int = 5 * 1024 * 1024
    max_bundle_entries: int = 1000
    resources: dict[str, ResourceConfig] = field(default_factory=dict)
    operations: list[Operation] = field(default_factory=list)
    clock: Callable[[], datetime] = utc_now
    """The time the service acts on: what a unit of work's ``now`` is (movable in development and tests)."""

    # ---- declaration --------------------------------------------------------------------------
    def search_param(
        self, resource_type: str, name: str, type_: SearchType, *paths: str, doc: str = ""
    ) -> None:
        """Declare a search parameter this kernel indexes, searches by and advertises (its own: another
        service's kernel is unchanged)."""
        self.store.search_params.add(resource_type, name, type_, *paths, doc=doc)

    def resource(
        self,
        resource_type: str,
        *,
        interactions: frozenset[str] = DEFAULT_INTERACTIONS,
        documentation: str = "",
        on_write: WriteHook | None = None,
    ) -> None:
        """Serve ``resource_type``; ``on_write`` runs in each create/update/delete's own transaction."""
        self.resources[resource_type] = ResourceConfig(resource_type, interactions, documentation, on_write)

    def operation(
        self,
        name: str,
        handler: UnitHandler | OperationHandler,
        *,
        level: Literal["system", "type", "instance"],
        scope: tuple[str, Interaction],
        resource_type: str | None = None,
        methods: tuple[str, ...] = ("POST",),
        documentation: str = "",
        streams_body: bool = False,
        prepare: Preparer | None = None,
        batched: bool = False,
        locate_repeat: UnitHandler | None = None,
        write_methods: tuple[str, ...] = (),
    ) -> None:
        """Declare an operation served by ``handler(call, uow)`` (``UnitHandler``; the ``async`` form of
        the call alone is still accepted during the migration); with ``streams_body`` the kernel leaves the
        body unread (``call.body`` is None) for a ``prepare`` step that reads ``call.request.stream()``
        itself (large or NDJSON inputs). ``prepare`` checks and parses the request before the transaction
        (see ``Preparer``); ``batched`` gives the handler a unit of work that inserts what it creates
        together at the end (see ``UnitOfWork``). ``locate_repeat(call, uow)`` names where the original of
        a request refused as a repeat (409) is, relative to the FHIR base, for its ``Location`` (looked up
        after the refused transaction rolled back; else what `remember_location` kept). ``write_methods``: the
        methods that change something although the scope is a read (they claim ``X-Request-Id``)."""
        if is_unit_handler(handler):
            run = unit_of_work_runner(
                handler,  # type: ignore[arg-type]
                prepare=prepare,
                batched=batched,
                locate_repeat=locate_repeat,
            )
        elif prepare is not None or batched or locate_repeat is not None:
            raise TypeError(f"${name}: prepare and batched need a handler(call, uow)")
        else:
            run = handler  # type: ignore[assignment]
        self.operations.append(
            Operation(
                name, run, level, resource_type, scope, methods, documentation, streams_body, write_methods
            )
        )

    def consumer(
        self, handler: ConsumerHandler, *, client_id: str | None = None
    ) -> Callable[[Connection, CloudEvent], None]:
        """The inbox's ``(conn, event)`` handler for a consumer written as ``handler(event, uow)``: the
        inbox owns the transaction (and its thread); the handler writes through a unit of work acting
        for the event's practice, as ``client_id`` (default the service's name)."""

        def apply(conn: Connection, event: CloudEvent) -> None:
            handler(event, UnitOfWork.for_event(self, conn, event, client_id=client_id))

        apply.__name__ = getattr(handler, "__name__", "consumer")
        apply.__doc__ = handler.__doc__
        return apply

    # ---- request plumbing ---------------------------------------------------------------------
    async def context(self, request: Request, resource_type: str, interaction: Interaction) -> RequestContext:
        """Authenticate (401), rate limit (429) and check the scope (403) of one call.

        Every refusal is audited: a 401 under the unauthenticated tenant (the caller is unknown), a 429
        and a 403 under the caller's practice (the caller is known, so the attempt is accountable).
        The one exception bounds what callers without a valid token can make us write: an address over
        its budget of refusals gets 429 (``RefusalsThrottled``), counted into the AuditEvent of its next
        audited refusal instead of one each.
        """
        record = AuditRecord(INTERACTION_CODES[interaction], resource_type)
        state = request.state
        try:
            principal = await self.authenticator.authenticate(request)
        except Unauthorized as exc:
            await self.audit_unauthenticated(request, record, exc)
            raise
        except (RefusalsThrottled, ClientThrottled):
            raise  # counted, not audited one by one
        except TooManyRequests as exc:  # an authenticator that limits itself names the caller first
            known: Principal | None = getattr(state, "principal", None)
            if known is None:
                await self.audit_unauthenticated(request, record, exc)
            else:
                await self.audit_failure(self._context(request, known), record, exc)
            raise
        ctx = self._context(request, principal)
        if self.rate_limiter is not None:
            try:
                unaudited = self.rate_limiter.check(principal.client_id) or 0
                ctx = replace(ctx, unaudited_before=ctx.unaudited_before + unaudited)
            except ClientThrottled:
                raise
            except TooManyRequests as exc:
                await self.audit_failure(ctx, record, exc)
                raise
        reason = principal.refusal(resource_type, interaction)
        if reason is not None:
            refusal = Forbidden(reason, headers=insufficient_scope(f"system/{resource_type}.{interaction}"))
            await self.audit_failure(ctx, record, refusal)
            raise refusal
        return ctx

    @staticmethod
    def check_contained(ctx: RequestContext, resource_types: Iterable[str], why: str) -> None:
        """Raise ``Forbidden`` unless the caller may read every type a response would contain (what a
        search's ``_include``/``_revinclude`` add): scopes and roles hold for every resource returned,
        wherever it came from, and a refusal names the type rather than hiding data silently."""
        for resource_type in sorted(set(resource_types)):
            reason = ctx.principal.refusal(resource_type, "r")
            if reason is not None:
                headers = insufficient_scope(f"system/{resource_type}.r")
                raise Forbidden(f"{why} would return {resource_type}: {reason}", headers=headers)

    def _context(self, request: Request, principal: Principal) -> RequestContext:
        state = request.state
        return RequestContext(
            principal,
            state.request_id,
            state.correlation_id,
            self.service,
            state.request_id_supplied,
            unaudited_before=getattr(state, "throttled_unaudited", 0) or 0,
        )

    async def audit_unauthenticated(self, request: Request, record: AuditRecord, exc: FhirError) -> None:
        """The AuditEvent of a call refused before its caller was known: ``unauthenticated_audit_event``."""
        why = refusal_category(exc) if isinstance(exc, Unauthorized) else "too many requests"
        event = unauthenticated_audit_event(
            self.service,
            AuditRecord(record.interaction, record.resource_type, outcome="4", outcome_text=why),
            request_id=request.state.request_id,
            correlation_id=request.state.correlation_id,
            address=request.client.host if request.client else None,
            unaudited_before=exc.unaudited_before if isinstance(exc, Unauthorized) else 0,
        )

        def write() -> None:
            with self.engine.begin() as conn:
                record_unauthenticated_audit(self.store, conn, event)

        await anyio.to_thread.run_sync(write)

    async def body(self, request: Request, *, optional: bool = False) -> Any:
        """The parsed JSON body; with ``optional``, an empty body (no Content-Type) is ``None``."""
        if (
            optional
            and not request.headers.get("content-type")
            and request.headers.get("content-length")
            in (
                None,
                "0",
            )
        ):
            return None
        check_media_type(request.headers.get("content-type"))
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise PayloadTooLarge(f"The body is larger than {self.max_body_bytes} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise PayloadTooLarge(f"The body is larger than {self.max_body_bytes} bytes")
            chunks.append(chunk)
        body = loads(b"".join(chunks))
        entries = body.get("entry") if isinstance(body, dict) else None
        if isinstance(entries, list) and len(entries) > self.max_bundle_entries:
            limit = self.max_bundle_entries
            raise PayloadTooLarge(f"The Bundle has {len(entries)} entries; at most {limit} are accepted")
        return body

    def audit(self, conn: Connection, ctx: RequestContext, record: AuditRecord) -> None:
        record_audit(self.store, conn, ctx, record)

    async def run(
        self,
        ctx: RequestContext,
        record: AuditRecord,
        work: Callable[[Connection], Any],
        *,
        write: bool = False,
    ) -> Any:
        """Run ``work`` in one transaction with its audit record; failures are audited too."""

        def in_transaction() -> Any:
            with self.engine.begin() as conn:
                if write:
                    idempotency.claim(conn, ctx)
                result = work(conn)
                self.audit(conn, ctx, record)
                return result

        try:
            return await anyio.to_thread.run_sync(in_transaction)
        except FhirError as exc:
            await self.audit_failure(ctx, record, exc)
            raise

    async def audit_failure(self, ctx: RequestContext, record: AuditRecord, exc: FhirError) -> None:
        failed = AuditRecord(
            record.interaction,
            record.resource_type,
            record.resource_id,
            record.patient,
            record.query,
            record.operation,
            "4" if exc.status < 500 else "8",
            exc.diagnostics,
        )

        def write() -> None:
            with self.engine.begin() as conn:
                self.audit(conn, ctx, failed)

        await anyio.to_thread.run_sync(write)

    @staticmethod
    def base_url(request: Request) -> str:
        # root_path carries the mount point (/referral in embedded mode) or a proxy's --root-path.
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return f"{request.url.scheme}://{request.url.netloc}{root}/fhir"

    # ---- the routes ---------------------------------------------------------------------------
    def router(self) -> APIRouter:
        from shared.fhir.routes import build_router

        return build_router(self)

    def capability(self, request: Request) -> dict[str, Any]:
        return capability_statement(self, self.base_url(request))

    # ---- helpers for handlers -----------------------------------------------------------------
    def validate(self, body: Any, resource_type: str) -> dict[str, Any]:
        """What every create and update takes: valid R4 (``validate_resource``) whose NHS numbers are
        NHS numbers (``check_nhs_numbers``)."""
        validate_resource(body, resource_type)
        check_nhs_numbers(body)
        resource: dict[str, Any] = body
        return resource

    def write_provenance(
        self,
        conn: Connection,
        ctx: RequestContext,
        resource: dict[str, Any],
        activity: str,
        *,
        practice: str | None = None,
    ) -> None:
        """A Provenance for ``resource``, filed under ``practice`` (default the practice that owns the
        resource's patient, see ``owner_practice``: where that practice's GP sees who wrote it, never
        under the caller's own practice when staff write on another practice's behalf)."""
        owner = practice or owner_practice(conn, ctx.tenants, ctx.principal.practice, resource)
        self.store.create(conn, provenance(ctx, resource, activity), practice=owner)
