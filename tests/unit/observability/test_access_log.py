"""One access log line per request, naming the request id the service's AuditEvent names, the route
template and the status: never the raw path or query, so no ids or patient data."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shared.observability import configure_logging
from tests.support.observability import SERVICE


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    configure_logging("INFO", service="obs")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    previous = handler.setStream(out)
    yield out
    handler.setStream(previous)


def _access(out: io.StringIO) -> list[dict[str, object]]:
    parsed = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return [p for p in parsed if p.get("logger") == "pain-review.access"]


def test_a_read_logs_one_line_with_its_route_template_status_and_request_id(
    client: TestClient, lines: io.StringIO
) -> None:
    response = client.get("/fhir/Patient/p-123", params={"name": "Jones"}, headers={"x-request-id": "req-1"})
    assert response.status_code == 404
    [line] = _access(lines)
    assert line["http_service"] == SERVICE and line["http_method"] == "GET"
    assert line["http_route"] == "/fhir/Patient/{resource_id}" and line["http_status"] == 404
    assert line["request_id"] == "req-1" and line["correlation_id"]
    assert "p-123" not in json.dumps(line) and "Jones" not in json.dumps(line)


def test_a_generated_request_id_is_logged_as_the_one_the_audit_event_names(
    client: TestClient, lines: io.StringIO
) -> None:
    response = client.post("/fhir/Patient", json={"resourceType": "Patient"})
    assert response.status_code == 201
    [line] = _access(lines)
    assert line["request_id"] == response.headers["x-request-id"]
