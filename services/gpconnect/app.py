"""The gpconnect service app: its consumers, operations and the delivery worker, wired to the kernel."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import Connection

from services.gpconnect import repository
from services.gpconnect.consumers import consumers
from services.gpconnect.delivery.adapters import DocumentChannel, default_guard
from services.gpconnect.delivery.adapters.mesh import MeshChannel, NoMeshChannel
from services.gpconnect.delivery.dispatch import Dispatcher
from services.gpconnect.delivery.worker import DeliveryWorker
from services.gpconnect.domain.delivery_policy import CircuitBreaker, RetryPolicy
from services.gpconnect.domain.practices import PracticeConfig
from services.gpconnect.operations import register_operations
from services.gpconnect.settings import GpconnectSettings
from shared.bus import Transport
from shared.contracts import event_source
from shared.fhir import Authenticator, RateLimiter, in_transaction
from shared.web import ServiceParts, build_service

__all__ = ["RESOURCES", "create_service", "documents_channel", "simulated_practice"]

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = (
    "Reads the GP record (GP Connect), writes tasks, prescription changes and documents back to GP systems."
)

RESOURCES: tuple[str, ...] = ()
log = logging.getLogger("pain-review.gpconnect")


def documents_channel(settings: GpconnectSettings) -> DocumentChannel:
    if not settings.mesh_url:
        return NoMeshChannel()
    return MeshChannel(
        settings.mesh_url,
        settings.mesh_mailbox,
        settings.mesh_password.get_secret_value(),
        settings.mesh_shared_key.get_secret_value(),
        timeout_s=settings.mesh_timeout_s,
    )


def simulated_practice(settings: GpconnectSettings, ods: str, supplier: str) -> PracticeConfig:
    """A practice served by the GP practice simulator (``painreview/simulator``). The operator
    named its address (``GPCONNECT_SIMULATOR_URL``), so it may be private or loopback."""
    base = f"{str(settings.simulator_url).rstrip('/')}/practices/{ods}"
    return PracticeConfig(
        ods=ods,
        supplier=supplier,
        endpoint=base,
        credentials_ref=settings.simulator_credentials_ref,
        mesh_mailbox=settings.simulator_mesh_mailbox,
        bars_endpoint=f"{base}/bars",
        allow_private=True,
    )


def create_service(
    settings: GpconnectSettings,
    *,
    authenticator: Authenticator,
    transport: Transport,
    rate_limiter: RateLimiter | None = None,
) -> ServiceParts:
    state: dict[str, DeliveryWorker] = {}

    @asynccontextmanager
    async def delivery(_app: FastAPI) -> AsyncIterator[None]:
        engine = parts.engine
        if settings.simulator_url:

            def simulated(conn: Connection) -> None:
                for ods, supplier in settings.simulated_practices():
                    config = simulated_practice(settings, ods, supplier)
                    current = repository.get_practice(conn, ods)
                    # A practice an operator configured otherwise keeps its configuration.
                    if current is None or current.endpoint == config.endpoint:
                        repository.upsert_practice(conn, config)

            await in_transaction(engine, simulated)
        if not settings.delivery_enabled:
            yield
            return
        clock = settings.clock()  # the system clock, or a movable one in development and tests
        timeout = httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            dispatcher = Dispatcher(
                engine,
                client,
                default_guard(settings.insecure_http_allowed, settings.allow_private_endpoints),
                documents_channel(settings),
                workflow_id=settings.mesh_workflow_id,
                source=event_source(settings.service_name),
                now=clock,
            )
            worker = DeliveryWorker(
                engine,
                dispatcher,
                policy=RetryPolicy(
                    settings.delivery_max_attempts, settings.delivery_base_s, settings.delivery_cap_s
                ),
                breaker=lambda: CircuitBreaker(settings.breaker_threshold, settings.breaker_open_s),
                concurrency=settings.delivery_concurrency,
                poll_s=settings.delivery_poll_s,
                idle_poll_s=settings.delivery_idle_poll_s,
                decision_poll_s=settings.decision_poll_s,
                rng=random.Random(),  # noqa: S311 (jitter, not secrets)
                now=clock,
            )
            state["worker"] = worker
            await worker.start()
            try:
                yield
            finally:
                await worker.close()

    async def delivery_ready() -> bool:
        worker = state.get("worker")
        return worker is None or worker.healthy()

    parts = build_service(
        settings,
        title="pain-review gpconnect",
        description=DESCRIPTION,
        authenticator=authenticator,
        transport=transport,
        rate_limiter=rate_limiter,
        resources=RESOURCES,
        consumers=consumers,
        migrations_dir=MIGRATIONS,
        configure=register_operations,
        lifespan_parts=(delivery,),
        readiness={"delivery": delivery_ready},
    )
    return parts
