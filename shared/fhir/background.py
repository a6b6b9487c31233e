"""Work a service does outside a request: one transaction, or one read, run off the event loop.

A delivery worker, a due-work pass or a lifespan step must not block the event loop with database I/O, and
must not open transactions by hand in ``async def`` code. These helpers own that:

* ``await in_transaction(engine, work)``: ``work(conn)`` in one transaction (committed when it returns,
  rolled back when it raises), in a worker thread; ``await reading(engine, work)`` the same without writing;
* ``with_transaction(engine, work)`` / ``with_connection(engine, work)``: the same, in the calling
  (already blocking) thread, for work that is itself run off the loop;
* ``as_service(kernel, practice, work)``: ``work(uow)`` in one transaction, through a unit of work acting
  as the service for ``practice`` only (its writes' Provenances name the service);
* ``await off_loop(fn, *args)``: any other blocking call (a client library, a DNS lookup) in a thread.

Services never open a transaction, a connection or a thread themselves: they hand the work here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from sqlalchemy import Connection, Engine

from shared.core.principal import Principal, Tenancy
from shared.fhir.audit import RequestContext
from shared.fhir.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from shared.fhir.kernel import FhirKernel

__all__ = ["as_service", "in_transaction", "off_loop", "reading", "with_connection", "with_transaction"]

T = TypeVar("T")


def with_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work(conn)`` in one transaction, in this thread: committed when it returns, rolled back if it
    raises."""
    with engine.begin() as conn:
        return work(conn)


def with_connection(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work(conn)`` on a connection that writes nothing (closed, never committed), in this thread."""
    with engine.connect() as conn:
        return work(conn)


async def in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work(conn)`` in one transaction, off the event loop."""
    return await anyio.to_thread.run_sync(with_transaction, engine, work)


async def reading(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work(conn)`` on a reading connection, off the event loop."""
    return await anyio.to_thread.run_sync(with_connection, engine, work)


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """A blocking call that is not the database's (a client library, a name lookup), in a worker thread."""
    return await anyio.to_thread.run_sync(fn, *args)


def as_service(
    kernel: FhirKernel,
    practice: str,
    work: Callable[[UnitOfWork], T],
    *,
    client_id: str | None = None,
) -> T:
    """``work(uow)`` in one transaction (in this thread), the service (``client_id``, default its name)
    acting for ``practice`` only: what a scheduled pass does, as a consumer does for an event."""
    name = client_id or kernel.service
    principal = Principal(client_id=name, practice=practice, role="service", scopes=frozenset())
    request_id = str(uuid.uuid4())
    ctx = RequestContext(principal, request_id, request_id, kernel.service, False)
    with kernel.engine.begin() as conn:
        return work(UnitOfWork(kernel, conn, ctx, tenants=Tenancy({practice})))
