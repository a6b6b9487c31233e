"""Every writing operation honours ``X-Request-Id`` because the kernel claims it, not the handler: the
same id twice is processed once and answered 409; a failed first try leaves the id free; a reading
operation claims nothing; ids are per practice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shared.core.errors import Unprocessable
from shared.db import make_engine
from shared.fhir import OperationCall, kernel_metadata
from shared.fhir.tables import request_table
from tests.support.kernel import build_kernel, kernel_client

FHIR = {"content-type": "application/fhir+json"}
BODY = {"resourceType": "Parameters", "parameter": [{"name": "fail", "valueBoolean": False}]}
FAILING = {"resourceType": "Parameters", "parameter": [{"name": "fail", "valueBoolean": True}]}


class Effects:
    """What the operations did: one entry per effect that committed."""

    def __init__(self) -> None:
        self.done: list[str] = []


@pytest.fixture
def harness(db_url: str) -> Iterator[tuple[TestClient, Effects, Any]]:
    engine = make_engine(db_url)
    kernel_metadata.create_all(engine)
    kernel = build_kernel(engine)
    effects = Effects()

    def operation(name: str) -> Any:
        async def handler(call: OperationCall) -> dict[str, Any]:
            fail = any(p.get("valueBoolean") for p in (call.body or {}).get("parameter", ()))

            def work() -> None:
                with call.transaction():
                    if fail:
                        raise Unprocessable("refused on purpose")
                # Recorded only once the transaction (and the claim in it) committed.
                effects.done.append(name)

            await anyio.to_thread.run_sync(work)
            return {"resourceType": "Parameters"}

        return handler

    kernel.operation("change", operation("change"), level="system", scope=("Observation", "c"))
    kernel.operation("amend", operation("amend"), level="system", scope=("Observation", "u"))
    kernel.operation("look", operation("look"), level="system", scope=("Observation", "r"))
    with kernel_client(kernel, title="t") as client:
        yield client, effects, engine
    engine.dispose()


def post(client: TestClient, name: str, request_id: str, body: dict[str, Any] = BODY, **headers: str) -> Any:
    return client.post(f"/fhir/${name}", json=body, headers={**FHIR, "x-request-id": request_id, **headers})


@pytest.mark.parametrize("name", ["change", "amend"])
def test_a_writing_operation_sent_twice_with_one_request_id_is_processed_once_then_409(
    harness: tuple[TestClient, Effects, Any], name: str
) -> None:
    client, effects, _ = harness
    assert post(client, name, "op-1").status_code == 200
    repeat = post(client, name, "op-1")
    assert repeat.status_code == 409
    assert repeat.json()["issue"][0]["code"] == "duplicate"
    assert effects.done == [name]


def test_a_failed_first_try_leaves_the_request_id_free(harness: tuple[TestClient, Effects, Any]) -> None:
    client, effects, engine = harness
    assert post(client, "change", "op-2", FAILING).status_code == 422
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(request_table)).scalar_one() == 0
    assert post(client, "change", "op-2").status_code == 200
    assert effects.done == ["change"]


def test_a_reading_operation_claims_no_request_id(harness: tuple[TestClient, Effects, Any]) -> None:
    client, effects, _ = harness
    assert post(client, "look", "op-3").status_code == 200
    assert post(client, "look", "op-3").status_code == 200
    assert effects.done == ["look", "look"]


def test_one_request_id_is_claimed_once_across_operations_and_per_practice(
    harness: tuple[TestClient, Effects, Any],
) -> None:
    client, effects, _ = harness
    assert post(client, "change", "op-4").status_code == 200
    assert post(client, "amend", "op-4").status_code == 409  # the practice already used this id
    assert post(client, "amend", "op-4", **{"x-test-practice": "B82002"}).status_code == 200
    assert effects.done == ["change", "amend"]
