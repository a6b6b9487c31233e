"""Build one service from its declarations: engine, migrations, FHIR kernel, app."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from shared.bus import Transport
from shared.db import make_engine, migrate
from shared.fhir.kernel import Authenticator, FhirKernel, RateLimiter, utc_now
from shared.fhir.published import seed_published
from shared.fhir.store import ResourceStore
from shared.observability.metrics import watch_dead_letters
from shared.web.app import ReadinessCheck, service_app
from shared.web.events import Consumer, ServiceEvents
from shared.web.settings import ServiceSettings

__all__ = ["READ_ONLY", "LifespanPart", "ServiceParts", "build_service"]

READ_ONLY = frozenset({"read", "vread", "history-instance", "search-type"})


@dataclass
class ServiceParts:
    settings: ServiceSettings
    engine: Engine
    kernel: FhirKernel
    app: FastAPI
    events: ServiceEvents


LifespanPart = Callable[[FastAPI], AbstractAsyncContextManager[Any]]
"""A part of the app's lifespan: entered at start-up, left at shutdown (a background loop, say)."""


def build_service(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    authenticator: Authenticator,
    transport: Transport,
    resources: Sequence[str],
    consumers: Sequence[Consumer] | Callable[[FhirKernel], Sequence[Consumer]] = (),
    migrations_dir: Path,
    rate_limiter: RateLimiter | None = None,
    configure: Callable[[FhirKernel], None] | None = None,
    routers: Sequence[APIRouter] | Callable[[FhirKernel], Sequence[APIRouter]] = (),
    lifespan_parts: Sequence[LifespanPart] | Callable[[FhirKernel], Sequence[LifespanPart]] = (),
    readiness: dict[str, ReadinessCheck] | None = None,
    engine: Engine | None = None,
    published: Sequence[dict[str, Any]] = (),
    store: ResourceStore | None = None,
    clock: Callable[[], datetime] | None = None,
) -> ServiceParts:
    """Every service: its own database (migrated at start), its resources, AuditEvent and Provenance,
    the definitional resources it ``published`` to every practice (seeded at start, read-only),
    its event consumers and outbox relay (started by the composition root, see ``ServiceEvents``).

    The kernel is built first: ``consumers``, ``routers`` and ``lifespan_parts`` may each be a function
    of it (handlers that write through it, a router or a background loop that needs it), so nothing is
    bound to the kernel after construction; a service whose repositories need the store before then
    builds it and passes ``store``.
    ``clock`` is the time its units of work act on (default the system's)."""
    engine = engine or make_engine(settings.resolved_database_url())
    if settings.run_migrations:
        migrate(migrations_dir, engine)
    shared_types = {resource["resourceType"] for resource in published}
    if store is None:
        store = ResourceStore(
            default_count=settings.default_page_size,
            max_count=settings.max_page_size,
            shared_types=shared_types,
        )
    elif not shared_types <= store.shared_types:
        raise ValueError(f"the store must share what the service publishes: {sorted(shared_types)}")
    kernel = FhirKernel(
        service=settings.service_name,
        engine=engine,
        authenticator=authenticator,
        store=store,
        rate_limiter=rate_limiter,
        max_body_bytes=settings.max_body_bytes,
        clock=clock or utc_now,
    )
    handlers = consumers(kernel) if callable(consumers) else consumers
    events = ServiceEvents(settings.service_name, engine, transport, handlers)
    watch_dead_letters(settings.service_name, engine)
    for resource_type in resources:
        kernel.resource(resource_type)
    kernel.resource("AuditEvent", interactions=READ_ONLY, documentation="Audit trail; auditor scope only")
    kernel.resource("Provenance", interactions=READ_ONLY, documentation="Who wrote each version")
    if configure is not None:
        configure(kernel)
    if published:
        seed_published(engine, kernel.store, published)
    app = service_app(
        kernel,
        title=title,
        description=description,
        routers=routers(kernel) if callable(routers) else routers,
        lifespan_parts=lifespan_parts(kernel) if callable(lifespan_parts) else lifespan_parts,
        readiness={"events": events.ready, **(readiness or {})},
    )
    return ServiceParts(settings, engine, kernel, app, events)
