"""Prometheus metrics: HTTP requests per service and route template, database pools, event lag.

Everything is registered in ``prometheus_client``'s default registry, the one the event backbone's
``painreview_events_*`` series (``shared.bus.metrics``) already live in, so one scrape of ``/metrics``
shows a process whole. In embedded mode four services share one process: every HTTP series carries a
``service`` label, and each ``/<service>/metrics`` (and ``/metrics``) shows the same, whole registry.

Labels never carry raw paths, ids, query strings or anything about a patient: the route label is the
template the request matched (``/fhir/Patient/{resource_id}``), or ``<unmatched>``.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

import anyio
import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ACCESS_LOG",
    "CONSUMER_ACK_PENDING",
    "CONSUMER_LAG",
    "HTTP_IN_FLIGHT",
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "UNMATCHED_ROUTE",
    "MetricsMiddleware",
    "metrics_endpoint",
    "metrics_response",
    "record_consumer_lag",
    "sample_jetstream_consumer_lag",
    "watch_dead_letters",
    "watch_engine_pool",
]

UNMATCHED_ROUTE = "<unmatched>"
ACCESS_LOG = logging.getLogger("pain-review.access")
"""One line per request: service, method, route template, status, duration and the request id the
service used (the one its AuditEvent names): never a raw path, query or body, so no patient data."""
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "painreview_http_requests",
    "HTTP requests answered, by service, method, route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "painreview_http_request_duration_seconds",
    "Time from request start to the end of the response body, by route template and status.",
    ["service", "method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge(
    "painreview_http_requests_in_flight", "Requests being handled now (drains to 0 on shutdown).", ["service"]
)
# JetStream's own view of each durable consumer; the backbone's counters are in shared.bus.metrics.
CONSUMER_LAG = Gauge(
    "painreview_events_consumer_lag",
    "Stream messages a durable consumer has not yet been delivered (JetStream num_pending).",
    ["consumer", "durable"],
)
CONSUMER_ACK_PENDING = Gauge(
    "painreview_events_consumer_ack_pending",
    "Messages delivered to a durable consumer and not yet acknowledged.",
    ["consumer", "durable"],
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route_template(route: Any) -> str:
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Pure ASGI middleware (streaming bodies pass untouched) counting and timing each request.

    The route label is read from ``scope["route"]`` after the app's router ran; a route object that
    was already there before (the outer app's ``Mount`` in embedded mode) means nothing matched here.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        outer_route = scope.get("route")
        method = scope.get("method", "GET")
        method = method if method in _METHODS else "OTHER"
        status = 500
        start = time.perf_counter()
        in_flight = HTTP_IN_FLIGHT.labels(self.service)
        in_flight.inc()

        async def send_and_observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_observe)
        finally:
            in_flight.dec()
            route = scope.get("route")
            template = UNMATCHED_ROUTE if route is None or route is outer_route else _route_template(route)
            labels = (self.service, method, template, str(status))
            elapsed = time.perf_counter() - start
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_LATENCY.labels(*labels).observe(elapsed)
            if ACCESS_LOG.isEnabledFor(logging.INFO):
                state = scope.get("state") or {}
                ACCESS_LOG.info(
                    "request",
                    extra={
                        "http_service": self.service,
                        "http_method": method,
                        "http_route": template,
                        "http_status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "request_id": state.get("request_id"),
                        "correlation_id": state.get("correlation_id"),
                    },
                )


def metrics_response() -> Response:
    """The whole default registry in the Prometheus text format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def metrics_endpoint(_request: Request) -> Response:
    """``GET /metrics`` (open, like ``/healthz``). Rendered in a worker thread: the database gauges
    below ask their engines at scrape time and must not block the event loop."""
    return await anyio.to_thread.run_sync(metrics_response)


class _ScrapeTimeCollector(Collector):
    """Gauges read at scrape time from engines a service registered; weak references, so an engine
    that was disposed and dropped simply disappears from the output."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, weakref.ref[Engine]] = {}
        self._dead_letters: dict[str, weakref.ref[Engine]] = {}

    def watch_pool(self, service: str, engine: Engine) -> None:
        with self._lock:
            self._pools[service] = weakref.ref(engine)

    def watch_dead_letters(self, database: str, engine: Engine) -> None:
        with self._lock:
            self._dead_letters[database] = weakref.ref(engine)

    def _live(self, refs: dict[str, weakref.ref[Engine]]) -> list[tuple[str, Engine]]:
        with self._lock:
            pairs = [(name, ref()) for name, ref in sorted(refs.items())]
        return [(name, engine) for name, engine in pairs if engine is not None]

    def describe(self) -> Iterable[Metric]:
        # Names only: the registry checks them for clashes without running the queries.
        return list(self._families())

    def _families(self) -> tuple[GaugeMetricFamily, ...]:
        size = GaugeMetricFamily("painreview_db_pool_size", "Connections the pool keeps.", labels=["service"])
        out = GaugeMetricFamily(
            "painreview_db_pool_checked_out", "Connections in use right now.", labels=["service"]
        )
        over = GaugeMetricFamily(
            "painreview_db_pool_overflow", "Connections open beyond the pool size.", labels=["service"]
        )
        dead = GaugeMetricFamily(
            "painreview_events_dead_letters_outstanding",
            "Dead letters in a consumer database not yet replayed (in-process transport).",
            labels=["database"],
        )
        return size, out, over, dead

    def collect(self) -> Iterable[Metric]:
        size, out, over, dead = self._families()
        for service, engine in self._live(self._pools):
            pool: Any = engine.pool
            # StaticPool and NullPool (in-memory SQLite, tests) have no sizes to report.
            if all(hasattr(pool, name) for name in ("size", "checkedout", "overflow")):
                size.add_metric([service], float(pool.size()))
                out.add_metric([service], float(pool.checkedout()))
                over.add_metric([service], float(max(pool.overflow(), 0)))
        for database, engine in self._live(self._dead_letters):
            count = _outstanding_dead_letters(engine)
            if count is not None:
                dead.add_metric([database], float(count))
        yield from (size, out, over, dead)


def _outstanding_dead_letters(engine: Engine) -> int | None:
    from shared.outbox.tables import dead_letter  # the backbone's table, not a copy

    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).where(dead_letter.c.replayed_at.is_(None))
            return int(conn.execute(query).scalar_one())
    except SQLAlchemyError:  # no such table yet, or the database is down: no sample
        return None


_COLLECTOR = _ScrapeTimeCollector()
REGISTRY.register(_COLLECTOR)


def watch_engine_pool(service: str, engine: Engine) -> None:
    """Report ``painreview_db_pool_{size,checked_out,overflow}{service=...}`` for this engine."""
    _COLLECTOR.watch_pool(service, engine)


def watch_dead_letters(database: str, engine: Engine) -> None:
    """Report ``painreview_events_dead_letters_outstanding{database=...}`` from the ``dead_letter``
    table of this consumer database (counted at each scrape)."""
    _COLLECTOR.watch_dead_letters(database, engine)


def record_consumer_lag(consumer: str, durable: str, pending: int, ack_pending: int = 0) -> None:
    """Set one durable consumer's lag (messages not yet delivered) and unacknowledged count."""
    CONSUMER_LAG.labels(consumer, durable).set(pending)
    CONSUMER_ACK_PENDING.labels(consumer, durable).set(ack_pending)


async def sample_jetstream_consumer_lag(js: Any, stream: str) -> None:
    """Ask JetStream for every durable consumer of ``stream`` and record its lag.

    ``js`` is a ``nats.js.JetStreamContext``; durable names are ``<consumer>--<type>``
    (``shared.bus.nats_consumer.durable_name``). Call it periodically, e.g. beside the relay.
    """
    for info in await js.consumers_info(stream):
        durable = str(info.name)
        consumer = durable.split("--", 1)[0]
        record_consumer_lag(consumer, durable, int(info.num_pending or 0), int(info.num_ack_pending or 0))
