"""One consumer signature: ``handler(event, uow)``. The kernel adapts it to the inbox's ``(conn, event)``:
the handler writes in the inbox's transaction, as the service acting for the event's practice only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select

from shared.contracts import CloudEvent, new_event
from shared.core.errors import NotFound
from shared.db import make_engine
from shared.fhir import FhirKernel, UnitOfWork, kernel_metadata
from shared.fhir.tables import resource_table
from shared.outbox import metadata as outbox_metadata
from shared.outbox import outbox
from tests.support.kernel import build_kernel

PRACTICE, OTHER = "A81001", "B82002"


@pytest.fixture
def kernel(db_url: str) -> Iterator[FhirKernel]:
    engine = make_engine(db_url)
    kernel_metadata.create_all(engine)
    outbox_metadata.create_all(engine)
    yield build_kernel(engine)
    engine.dispose()


def event(practice: str = PRACTICE) -> CloudEvent:
    plan = {"resourceType": "CarePlan", "id": "plan-1", "status": "active", "intent": "plan"}
    return new_event(
        "careplan.updated.v1",
        source="/painreview/careplan",
        subject="CarePlan/plan-1",
        practice=practice,
        data=plan,
        correlationid="corr-1",
    )


def rows(engine: Engine, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
    with engine.connect() as conn:
        found = conn.execute(
            select(resource_table.c.practice, resource_table.c.content).where(
                resource_table.c.resource_type == resource_type
            )
        ).all()
    return [(row.practice, orjson.loads(row.content)) for row in found]


def test_a_consumer_writes_and_emits_in_the_inbox_transaction_for_the_event_practice(
    kernel: FhirKernel,
) -> None:
    seen: list[UnitOfWork] = []

    def on_plan(received: CloudEvent, uow: UnitOfWork) -> None:
        seen.append(uow)
        uow.create({"resourceType": "Observation", "status": "final", "code": {"text": "noted"}})
        uow.emit("careplan.updated.v1", received.subject, received.data)

    apply = kernel.consumer(on_plan)
    with kernel.engine.begin() as conn:  # the inbox's transaction
        apply(conn, event())
    ((owner, observation),) = rows(kernel.engine, "Observation")
    assert owner == PRACTICE
    ((practice, provenance),) = rows(kernel.engine, "Provenance")
    assert practice == PRACTICE
    assert provenance["target"][0]["reference"].startswith(f"Observation/{observation['id']}")
    assert seen[0].ctx.principal.role == "service"
    assert seen[0].ctx.principal.client_id == kernel.service
    assert seen[0].tenants == {PRACTICE}
    assert seen[0].events[0].correlationid == "corr-1"  # the cause's correlation id travels on
    with kernel.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 1


def test_a_consumer_that_raises_leaves_nothing_written_and_nothing_emitted(kernel: FhirKernel) -> None:
    def on_plan(received: CloudEvent, uow: UnitOfWork) -> None:
        uow.create({"resourceType": "Observation", "status": "final", "code": {"text": "noted"}})
        uow.emit("careplan.updated.v1", received.subject, received.data)
        raise RuntimeError("retry later")

    apply = kernel.consumer(on_plan)
    with pytest.raises(RuntimeError), kernel.engine.begin() as conn:
        apply(conn, event())
    assert rows(kernel.engine, "Observation") == []
    with kernel.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 0


def test_a_consumer_reads_only_the_event_practice(kernel: FhirKernel) -> None:
    with kernel.engine.begin() as conn:
        kernel.store.create(conn, {"resourceType": "Patient"}, practice=OTHER, resource_id="p-other")

    def on_plan(received: CloudEvent, uow: UnitOfWork) -> None:
        uow.read("Patient/p-other")

    with pytest.raises(NotFound), kernel.engine.begin() as conn:
        kernel.consumer(on_plan)(conn, event(PRACTICE))
