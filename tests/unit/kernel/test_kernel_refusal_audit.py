"""Refusals before a caller is known (401) or while it is throttled (429) leave an AuditEvent too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from shared.auth.ratelimit import RateLimiter
from shared.core.principal import UNAUTHENTICATED_TENANT
from shared.db import make_engine
from shared.fhir import kernel_metadata
from shared.fhir.tables import resource_table
from tests.support.kernel import build_kernel, kernel_app

R = resource_table


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'kernel.db'}")
    kernel_metadata.create_all(engine)
    kernel = build_kernel(engine)
    kernel.rate_limiter = RateLimiter(rate_per_s=0.001, burst=1)
    with TestClient(kernel_app(kernel, title="test")) as client:
        yield client, engine
    engine.dispose()


def _audit(engine: Engine) -> list[tuple[str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(select(R.c.practice, R.c.content).where(R.c.resource_type == "AuditEvent")).all()
    return [(row.practice, orjson.loads(row.content)) for row in rows]


def _request_id(event: dict[str, Any]) -> str:
    return next(e["what"]["identifier"]["value"] for e in event["entity"] if "identifier" in e["what"])


def test_a_call_without_credentials_is_audited_under_the_unauthenticated_tenant(
    limited: tuple[TestClient, Engine],
) -> None:
    client, engine = limited
    response = client.get(
        "/fhir/Patient/p-1", params={"name": "Jones"}, headers={"x-request-id": "no-cred-1"}
    )
    assert response.status_code == 401
    [(practice, event)] = _audit(engine)
    assert practice == UNAUTHENTICATED_TENANT
    assert event["outcome"] == "4" and event["outcomeDesc"] == "access token refused"
    assert _request_id(event) == "no-cred-1"
    assert event["agent"][0]["who"] == {"display": "unknown client (not authenticated)"}
    assert event["agent"][0]["network"]["address"]
    assert "p-1" not in orjson.dumps(event).decode() and "Jones" not in orjson.dumps(event).decode()


def test_a_throttled_caller_is_audited_under_its_own_practice(limited: tuple[TestClient, Engine]) -> None:
    client, engine = limited
    headers = {"x-test-practice": "A81001"}
    assert client.get("/fhir/Patient", headers=headers).status_code == 200
    throttled = client.get("/fhir/Patient", headers={**headers, "x-request-id": "too-many-1"})
    assert throttled.status_code == 429
    [(practice, event)] = [(p, e) for p, e in _audit(engine) if _request_id(e) == "too-many-1"]
    assert practice == "A81001"
    assert event["outcome"] == "4" and event["agent"][0]["who"]["identifier"]["value"] == "client-A81001"
