"""Work outside a request (``shared.fhir.background``): one transaction or one read off the event loop, and
the service acting for one practice; a unit of work tells the time by its kernel's clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from sqlalchemy import Connection, func, select

from shared.db import make_engine
from shared.fhir import (
    FhirKernel,
    NotFound,
    UnitOfWork,
    as_service,
    in_transaction,
    kernel_metadata,
    off_loop,
    reading,
    resource_table,
)
from shared.outbox import metadata as outbox_metadata
from tests.support.auth import HeaderAuthenticator

PRACTICE, OTHER = "A81001", "B82002"
THEN = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def kernel(db_url: str) -> Iterator[FhirKernel]:
    engine = make_engine(db_url)
    kernel_metadata.create_all(engine)
    outbox_metadata.create_all(engine)
    yield FhirKernel("test", engine, HeaderAuthenticator(), clock=lambda: THEN)
    engine.dispose()


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(resource_table)).scalar_one())


def plan(uow: UnitOfWork) -> dict[str, Any]:
    return uow.create({"resourceType": "CarePlan", "status": "active", "intent": "plan"})


def test_in_transaction_commits_what_returns_and_rolls_back_what_raises(kernel: FhirKernel) -> None:
    def insert(conn: Connection, fail: bool) -> None:
        kernel.store.create(
            conn, {"resourceType": "CarePlan", "status": "active", "intent": "plan"}, practice=PRACTICE
        )
        if fail:
            raise RuntimeError("the work failed")

    async def run() -> int:
        await in_transaction(kernel.engine, lambda conn: insert(conn, False))
        with pytest.raises(RuntimeError):
            await in_transaction(kernel.engine, lambda conn: insert(conn, True))
        return await reading(kernel.engine, count)

    assert anyio.run(run) == 1


def test_as_service_acts_for_one_practice_only_by_the_kernel_clock(kernel: FhirKernel) -> None:
    mine = as_service(kernel, PRACTICE, plan)
    theirs = as_service(kernel, OTHER, plan)
    assert as_service(kernel, PRACTICE, lambda uow: uow.now) == THEN
    assert as_service(kernel, PRACTICE, lambda uow: uow.read("CarePlan", mine["id"]))["id"] == mine["id"]
    with pytest.raises(NotFound):
        as_service(kernel, PRACTICE, lambda uow: uow.read("CarePlan", theirs["id"]))
    provenance = as_service(kernel, PRACTICE, lambda uow: uow.search("Provenance", []).resources)
    assert [p["agent"][0]["who"]["identifier"]["value"] for p in provenance] == ["test"]


def test_off_loop_runs_a_blocking_call_in_a_worker_thread() -> None:
    import threading

    async def run() -> bool:
        here = threading.get_ident()
        return await off_loop(lambda: threading.get_ident() != here)

    assert anyio.run(run)
