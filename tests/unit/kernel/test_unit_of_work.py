"""The kernel's unit of work: an operation handler is a plain ``handler(call, uow)``; the kernel runs it off
the event loop in one transaction that claims ``X-Request-Id``, audits with the patient the handler named,
and commits the handler's resources, Provenances and outbox events together or not at all."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from shared.core.errors import Unprocessable
from shared.db import make_engine
from shared.fhir import OperationCall, UnitOfWork, kernel_metadata
from shared.fhir.tables import request_table, resource_table
from shared.outbox import metadata as outbox_metadata
from shared.outbox import outbox
from tests.support.kernel import build_kernel, kernel_client

FHIR = {"content-type": "application/fhir+json"}
PATIENT = "Patient/p-1"


def params(fail: bool = False) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": "fail", "valueBoolean": fail}]}


@dataclass
class Seen:
    handler_threads: list[int] = field(default_factory=list)
    loop_threads: list[int] = field(default_factory=list)
    loop_running_in_handler: list[bool] = field(default_factory=list)


@pytest.fixture
def harness(db_url: str) -> Iterator[tuple[TestClient, Engine, Seen]]:
    engine = make_engine(db_url)
    kernel_metadata.create_all(engine)
    outbox_metadata.create_all(engine)
    kernel = build_kernel(engine)
    seen = Seen()

    def record(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        seen.handler_threads.append(threading.get_ident())
        try:
            asyncio.get_running_loop()
            seen.loop_running_in_handler.append(True)
        except RuntimeError:
            seen.loop_running_in_handler.append(False)
        uow.patient = PATIENT  # named before anything can fail, so a refusal is audited against it
        stored = uow.create(
            {"resourceType": "Observation", "status": "final", "code": {"text": "pain score"}}
        )
        uow.emit(
            "careplan.updated.v1",
            PATIENT,
            {"resourceType": "CarePlan", "status": "active", "intent": "plan"},
        )
        if any(p.get("valueBoolean") for p in (call.body or {}).get("parameter", ())):
            raise Unprocessable("refused on purpose, after writing and emitting")
        return {"resourceType": "Parameters", "parameter": [{"name": "id", "valueString": stored["id"]}]}

    async def loop_thread(call: OperationCall) -> dict[str, Any]:  # the older async form still works
        seen.loop_threads.append(threading.get_ident())
        return {"resourceType": "Parameters"}

    def look(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        return {"resourceType": "Parameters", "parameter": [{"name": "total", "valueInteger": 0}]}

    def render(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        stored = uow.create({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})

        def after(result: dict[str, Any]) -> dict[str, Any]:
            # A fresh connection sees the write: the step runs once the transaction committed.
            return {**result, "valueInteger": count(engine, "Observation")}

        uow.then(after)
        return {"resourceType": "Parameters", "id": stored["id"]}

    kernel.operation("record", record, level="system", scope=("Observation", "c"))
    kernel.operation("render", render, level="system", scope=("Observation", "c"))
    kernel.operation("loop-thread", loop_thread, level="system", scope=("Observation", "r"))
    kernel.operation("look", look, level="system", scope=("Observation", "r"))
    with kernel_client(kernel, title="t") as client:
        yield client, engine, seen
    engine.dispose()


def post(client: TestClient, name: str, request_id: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/fhir/${name}", json=body or params(), headers={**FHIR, "x-request-id": request_id})


def count(engine: Engine, resource_type: str) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(resource_table)
        return int(conn.execute(query.where(resource_table.c.resource_type == resource_type)).scalar_one())


def outbox_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())


def claimed(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(request_table)).scalar_one())


def audit_events(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(resource_table.c.content).where(resource_table.c.resource_type == "AuditEvent")
        ).all()
    return [orjson.loads(row.content) for row in rows]


def operation_audits(engine: Engine, name: str) -> list[dict[str, Any]]:
    return [
        event
        for event in audit_events(engine)
        if any(entity.get("description") == f"${name}" for entity in event.get("entity", ()))
    ]


def patients(event: dict[str, Any]) -> list[str]:
    return [
        entity["what"]["reference"]
        for entity in event.get("entity", ())
        if entity.get("role", {}).get("code") == "1"
    ]


def test_writes_provenance_and_the_outbox_event_commit_together(
    harness: tuple[TestClient, Engine, Seen],
) -> None:
    client, engine, _ = harness
    response = post(client, "record", "uow-1")
    assert response.status_code == 200, response.text
    assert count(engine, "Observation") == 1
    assert count(engine, "Provenance") == 1
    assert outbox_count(engine) == 1
    assert claimed(engine) == 1


def test_a_raise_inside_the_handler_writes_nothing_emits_nothing_and_leaves_the_id_free(
    harness: tuple[TestClient, Engine, Seen],
) -> None:
    client, engine, _ = harness
    assert post(client, "record", "uow-2", params(fail=True)).status_code == 422
    assert count(engine, "Observation") == 0
    assert count(engine, "Provenance") == 0
    assert outbox_count(engine) == 0
    assert claimed(engine) == 0
    # The refusal is audited (outcome 4) against the patient the handler named before failing.
    (failed,) = operation_audits(engine, "record")
    assert failed["outcome"] == "4"
    assert patients(failed) == [PATIENT]
    # The id was not claimed, so the retry goes through.
    assert post(client, "record", "uow-2").status_code == 200
    assert count(engine, "Observation") == 1
    assert outbox_count(engine) == 1


def test_a_repeated_request_id_is_refused_and_processed_once(
    harness: tuple[TestClient, Engine, Seen],
) -> None:
    client, engine, _ = harness
    assert post(client, "record", "uow-3").status_code == 200
    repeat = post(client, "record", "uow-3")
    assert repeat.status_code == 409
    assert repeat.json()["issue"][0]["code"] == "duplicate"
    assert count(engine, "Observation") == 1
    assert outbox_count(engine) == 1


def test_a_reading_operation_claims_no_request_id(harness: tuple[TestClient, Engine, Seen]) -> None:
    client, engine, _ = harness
    assert post(client, "look", "uow-4").status_code == 200
    assert post(client, "look", "uow-4").status_code == 200
    assert claimed(engine) == 0
    assert len(operation_audits(engine, "look")) == 2  # each call audited once


def test_the_handler_runs_off_the_event_loop(harness: tuple[TestClient, Engine, Seen]) -> None:
    client, _, seen = harness
    assert post(client, "loop-thread", "uow-5").status_code == 200
    assert post(client, "record", "uow-6").status_code == 200
    assert seen.loop_running_in_handler == [False]
    assert seen.handler_threads[0] != seen.loop_threads[0]


def test_the_audit_record_names_the_patient_the_handler_set(
    harness: tuple[TestClient, Engine, Seen],
) -> None:
    client, engine, _ = harness
    assert post(client, "record", "uow-7").status_code == 200
    (audit,) = operation_audits(engine, "record")  # one AuditEvent, written in the same transaction
    assert audit["outcome"] == "0"
    assert patients(audit) == [PATIENT]


def test_a_step_given_to_then_runs_after_the_commit(harness: tuple[TestClient, Engine, Seen]) -> None:
    client, _, _ = harness
    response = post(client, "render", "uow-8")
    assert response.status_code == 200, response.text
    assert response.json()["valueInteger"] == 1
