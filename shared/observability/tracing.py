"""OpenTelemetry tracing: FastAPI server spans, httpx client spans, SQLAlchemy query spans, and the W3C
``traceparent`` that carries a trace across the event bus.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set: then
nothing is instrumented, spans come from OpenTelemetry's no-op tracer and
:func:`inject_traceparent` answers ``None``. When set, spans are batched and exported over OTLP/HTTP;
the standard ``OTEL_*`` variables (service name, headers, sampler) apply. Tests pass an exporter.

Span attributes are names, routes, statuses and SQL statements with bound parameters left out: never
resource content.

The bus continues a trace like this::

    event.traceparent = inject_traceparent()            # when the outbox row is recorded
    with event_span("publish referral.accepted.v1", traceparent=row.traceparent, kind=SpanKind.PRODUCER):
        ...                                             # the relay
    with event_span("process referral.accepted.v1", traceparent=event.traceparent):
        ...                                             # the consumer (SpanKind.CONSUMER by default)
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import Engine

__all__ = [
    "SpanKind",
    "configure_tracing",
    "event_span",
    "extract_context",
    "inject_traceparent",
    "instrument_app",
    "instrument_engine",
    "reset_tracing",
    "tracer",
    "tracing_enabled",
]

log = logging.getLogger(__name__)
_PROPAGATOR = TraceContextTextMapPropagator()  # W3C only, whatever OTEL_PROPAGATORS says
_NOT_TRACED = "healthz,readyz,metrics"  # probes and scrapes would drown the real traffic
_INSTRUMENTATION = "pain-review"
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.provider: TracerProvider | None = None
        self.engines: weakref.WeakSet[Engine] = weakref.WeakSet()


_state = _State()


def _endpoint_configured(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name) for name in _ENDPOINT_VARIABLES)


def configure_tracing(
    service: str, *, exporter: SpanExporter | None = None, environ: Mapping[str, str] | None = None
) -> bool:
    """Turn tracing on for this process if configured; True when it is on. Idempotent: the first
    call that turns it on wins (in embedded mode four services share one provider and tell their
    spans apart by the ``painreview.service`` attribute).

    ``exporter`` (tests): use it through a synchronous processor, without touching the global
    provider. Otherwise, with an OTLP endpoint in the environment: OTLP/HTTP, batched, and set as the
    global provider (flushed at exit).
    """
    env = os.environ if environ is None else environ
    with _state.lock:
        if _state.provider is not None:
            return True
        if exporter is None and not _endpoint_configured(env):
            return False
        name = env.get("OTEL_SERVICE_NAME") or f"painreview-{service}"
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(provider)
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
        _state.provider = provider
    log.info("tracing on", extra={"otel_service_name": name})
    return True


def reset_tracing() -> None:
    """Undo :func:`configure_tracing` (tests): flush, stop instrumenting httpx, forget the provider.
    Apps and engines instrumented before keep their instrumentation."""
    with _state.lock:
        provider, _state.provider = _state.provider, None
        _state.engines = weakref.WeakSet()
    if provider is not None:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().uninstrument()
        provider.shutdown()


def tracing_enabled() -> bool:
    return _state.provider is not None


def tracer() -> Tracer:
    """Our tracer: the configured provider's, else OpenTelemetry's global one (a no-op by default)."""
    provider = _state.provider
    if provider is not None:
        return provider.get_tracer(_INSTRUMENTATION)
    return trace.get_tracer(_INSTRUMENTATION)


def instrument_app(app: FastAPI, service: str) -> None:
    """Server spans for every request to ``app`` (not probes or scrapes), named by route template."""
    provider = _state.provider
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    def tag_service(span: Span, _scope: dict[str, Any]) -> None:
        if span.is_recording():
            span.set_attribute("painreview.service", service)

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        server_request_hook=tag_service,
        excluded_urls=_NOT_TRACED,
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: Engine) -> None:
    """A span per SQL statement on ``engine`` (statement text only, never the bound values)."""
    provider = _state.provider
    if provider is None or engine in _state.engines:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider

    # One EngineTracer per engine: SQLAlchemyInstrumentor.instrument() acts only on its first call.
    usage = NoOpMeterProvider().get_meter(_INSTRUMENTATION).create_up_down_counter("db.client.connections")
    EngineTracer(provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, usage)  # type: ignore[no-untyped-call]
    _state.engines.add(engine)


def inject_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (to store in an event envelope), or None when no
    span is recording (tracing off, or outside any request)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def extract_context(traceparent: str | None) -> Context:
    """A context whose parent is the span ``traceparent`` names; an empty context when it is absent
    or malformed (a new trace then starts)."""
    if not traceparent:
        return Context()
    return _PROPAGATOR.extract({"traceparent": traceparent})


@contextmanager
def event_span(
    name: str,
    *,
    traceparent: str | None,
    kind: SpanKind = SpanKind.CONSUMER,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[Span]:
    """A span continuing the trace in ``traceparent`` (relay: ``PRODUCER``; consumer: ``CONSUMER``),
    made current so that database and HTTP spans inside it join the trace. Attributes: event ids and
    types, never event data."""
    parent = extract_context(traceparent)
    with tracer().start_as_current_span(
        name, context=parent, kind=kind, attributes=dict(attributes or {})
    ) as span:
        yield span
