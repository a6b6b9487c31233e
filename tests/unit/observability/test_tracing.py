"""Tracing: a server span per request (with its SQL inside), and traceparent across the bus."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine

from shared.observability.tracing import (
    configure_tracing,
    event_span,
    extract_context,
    inject_traceparent,
    reset_tracing,
    tracer,
    tracing_enabled,
)
from tests.support.observability import PRACTICE, SERVICE, make_app

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert configure_tracing(SERVICE, exporter=exporter)
    yield exporter
    reset_tracing()


def test_tracing_is_off_without_an_otlp_endpoint() -> None:
    assert configure_tracing("referral", environ={}) is False
    assert not tracing_enabled()
    assert inject_traceparent() is None


def test_tracing_stays_off_when_the_sdk_is_disabled() -> None:
    environ = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert configure_tracing("referral", environ=environ) is False


def test_an_otlp_endpoint_turns_tracing_on_with_the_global_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[object] = []
    monkeypatch.setattr("opentelemetry.trace.set_tracer_provider", installed.append)
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SERVICE_NAME": "referral-a"}
    try:
        assert configure_tracing("referral", environ=environ)
        assert tracing_enabled()
        (provider,) = installed
        assert provider.resource.attributes["service.name"] == "referral-a"  # type: ignore[attr-defined]
    finally:
        reset_tracing()
    assert not tracing_enabled()


def test_an_http_request_produces_a_server_span_named_by_route_with_its_sql_inside(
    spans: InMemorySpanExporter, engine: Engine
) -> None:
    with TestClient(make_app(engine), headers=PRACTICE) as client:
        assert client.get("/fhir/Patient/does-not-exist").status_code == 404
        client.get("/healthz")

    finished = spans.get_finished_spans()
    servers = [s for s in finished if s.kind is SpanKind.SERVER]
    assert len(servers) == 1, [s.name for s in finished]  # probes are not traced
    server = servers[0]
    assert server.name == "GET /fhir/Patient/{resource_id}"
    assert server.attributes is not None
    assert server.attributes["painreview.service"] == SERVICE
    assert server.attributes["http.route"] == "/fhir/Patient/{resource_id}"
    queries = [s for s in finished if s.kind is SpanKind.CLIENT and s.parent is not None]
    assert queries, "the read's SQL should be traced"
    assert all(q.context.trace_id == server.context.trace_id for q in queries)


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("traceparent"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_an_outgoing_httpx_call_joins_the_current_trace(spans: InMemorySpanExporter) -> None:
    # A real transport: the instrumentation wraps httpx.HTTPTransport, which MockTransport bypasses.
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        with tracer().start_as_current_span("caller") as caller, httpx.Client() as client:
            client.get(f"http://127.0.0.1:{server.server_port}/record")
    finally:
        thread.join(5)
        server.server_close()

    sent = _Recorder.seen[-1]
    assert sent is not None and TRACEPARENT.match(sent)
    assert sent.split("-")[1] == format(caller.get_span_context().trace_id, "032x")
    assert any(s.kind is SpanKind.CLIENT and s.name == "GET" for s in spans.get_finished_spans())


def test_the_traceparent_of_an_event_continues_the_trace_in_the_consumer(spans: InMemorySpanExporter) -> None:
    with tracer().start_as_current_span("POST /fhir/$process-message") as intake:
        recorded = inject_traceparent()
    assert recorded is not None and TRACEPARENT.match(recorded)

    with event_span("publish referral.accepted.v1", traceparent=recorded, kind=SpanKind.PRODUCER) as relay:
        pass
    with event_span(
        "process referral.accepted.v1", traceparent=recorded, attributes={"event.id": "e1"}
    ) as consumer:
        inner = inject_traceparent()

    trace_id = intake.get_span_context().trace_id
    for span in (relay, consumer):
        assert span.get_span_context().trace_id == trace_id
        assert span.parent is not None  # type: ignore[attr-defined]
        assert span.parent.span_id == intake.get_span_context().span_id  # type: ignore[attr-defined]
    assert consumer.kind is SpanKind.CONSUMER  # type: ignore[attr-defined]
    assert inner is not None and inner.split("-")[2] == format(consumer.get_span_context().span_id, "016x")


def test_an_event_without_a_traceparent_starts_a_new_trace(spans: InMemorySpanExporter) -> None:
    with (
        tracer().start_as_current_span("unrelated") as unrelated,
        event_span("process patient.enrolled.v1", traceparent=None) as consumer,
    ):
        pass
    assert consumer.get_span_context().trace_id != unrelated.get_span_context().trace_id


@pytest.mark.parametrize("bad", ["", "garbage", "00-zz-00-01", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"])
def test_a_malformed_traceparent_gives_an_empty_context(bad: str) -> None:
    from opentelemetry import trace

    assert not trace.get_current_span(extract_context(bad)).get_span_context().is_valid
