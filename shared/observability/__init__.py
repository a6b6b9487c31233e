"""Logs, request correlation, metrics and tracing shared by every service."""

from shared.observability.correlation import CorrelationMiddleware, correlation_id, request_id
from shared.observability.logging import configure_logging
from shared.observability.metrics import (
    MetricsMiddleware,
    metrics_endpoint,
    record_consumer_lag,
    sample_jetstream_consumer_lag,
    watch_dead_letters,
    watch_engine_pool,
)
from shared.observability.tracing import (
    configure_tracing,
    event_span,
    extract_context,
    inject_traceparent,
    instrument_app,
    instrument_engine,
    tracing_enabled,
)

__all__ = [
    "CorrelationMiddleware",
    "MetricsMiddleware",
    "configure_logging",
    "configure_tracing",
    "correlation_id",
    "event_span",
    "extract_context",
    "inject_traceparent",
    "instrument_app",
    "instrument_engine",
    "metrics_endpoint",
    "record_consumer_lag",
    "request_id",
    "sample_jetstream_consumer_lag",
    "tracing_enabled",
    "watch_dead_letters",
    "watch_engine_pool",
]
