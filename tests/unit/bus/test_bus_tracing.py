"""The relay and the consumer continue the producer's trace from the envelope's traceparent."""

from __future__ import annotations

import pytest
from bus_support import accepted, applied, emit, running
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.observability.tracing import configure_tracing, reset_tracing
from tests.support import eventually_async

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    configure_tracing("referral", exporter=exporter)
    yield exporter
    reset_tracing()


async def test_publish_and_process_spans_join_the_producers_trace(make_db, spans) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    event = accepted(traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01")
    async with running(producer, consumer) as run:
        emit(producer, [event])
        await eventually_async(lambda: len(applied(consumer)) == 1)
        assert await run.relay.wait_idle(60)
    finished = {s.name: s for s in spans.get_finished_spans()}
    publish, process = finished["publish referral.accepted.v1"], finished["process referral.accepted.v1"]
    assert publish.kind == SpanKind.PRODUCER and process.kind == SpanKind.CONSUMER
    assert {format(s.context.trace_id, "032x") for s in (publish, process)} == {TRACE_ID}
    assert process.attributes["messaging.message.id"] == event.id
