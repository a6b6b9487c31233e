"""One referral is one trace: the intake request, the outbox publish and the consumer in another
service (careplan counting the referral) share a trace id (issue 9), asserted on real spans."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from painreview.embedded import create_embedded_system
from shared.auth import mint_local_token
from shared.observability.tracing import configure_tracing, reset_tracing
from tests.support import eventually
from tests.support.bars import eligible_referral


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[TestClient, InMemorySpanExporter, str, str]]:
    exporter = InMemorySpanExporter()
    assert configure_tracing("painreview-test", exporter=exporter)
    try:
        system = create_embedded_system(tmp_path / "var")
        token = mint_local_token(system.auth, practice="A81001", scope="system/*.cruds")
        endpoint = system.services["referral"].settings.bars_endpoint  # type: ignore[attr-defined]
        with TestClient(system.app) as client:
            yield client, exporter, token, endpoint
        for parts in system.services.values():
            parts.engine.dispose()
    finally:
        reset_tracing()


def _wait_for(exporter: InMemorySpanExporter, name: str, timeout: float = 10.0) -> list[ReadableSpan]:
    return eventually(
        lambda: [s for s in exporter.get_finished_spans() if s.name == name],
        within=timeout,
        what=f"span {name!r}",
    )


def test_a_referral_traces_from_intake_through_the_outbox_to_a_consumer_in_another_service(
    traced: tuple[TestClient, InMemorySpanExporter, str, str],
) -> None:
    client, exporter, token, endpoint = traced
    response = client.post(
        "/referral/fhir/$process-message",
        json=eligible_referral(endpoint),
        headers={
            "authorization": f"Bearer {token}",
            "content-type": "application/fhir+json",
            "x-request-id": "trace-test-1",
        },
    )
    assert response.status_code in (200, 201), response.text
    server = [
        s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER and "process-message" in s.name
    ]
    assert server, sorted({s.name for s in exporter.get_finished_spans()})
    trace_id = server[0].context.trace_id

    published = [
        s for s in _wait_for(exporter, "publish referral.received.v1") if s.context.trace_id == trace_id
    ]
    consumed = [
        s for s in _wait_for(exporter, "process referral.received.v1") if s.context.trace_id == trace_id
    ]
    assert published and published[0].kind == SpanKind.PRODUCER
    assert consumed and consumed[0].kind == SpanKind.CONSUMER
    consumers = {str((s.attributes or {}).get("messaging.consumer.group.name", "")) for s in consumed}
    assert any(name.startswith("careplan") for name in consumers), consumers
