"""Finding 9, request ids: a response carried two different generated request ids when the client sent
none (the embedded process's and the mounted service's). Replayed: one of each, the same the audit has."""

from __future__ import annotations

from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from tests.support.tokens import Tokens


def test_a_request_without_ids_gets_one_request_id_and_one_correlation_id(
    secured: tuple[EmbeddedSystem, TestClient, Tokens],
) -> None:
    _system, client, tokens = secured
    response = client.get("/referral/fhir/Patient", headers={"authorization": f"Bearer {tokens.valid()}"})
    assert response.status_code == 200
    assert len(response.headers.get_list("x-request-id")) == 1
    assert len(response.headers.get_list("x-correlation-id")) == 1
    supplied = client.get(
        "/careplan/fhir/metadata", headers={"x-request-id": "req-1", "x-correlation-id": "corr-1"}
    )
    assert supplied.headers.get_list("x-request-id") == ["req-1"]
    assert supplied.headers.get_list("x-correlation-id") == ["corr-1"]
