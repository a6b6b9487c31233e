"""Assemble one service's FastAPI app from its kernel and extra routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine, text
from starlette.responses import JSONResponse, Response

from shared.fhir.kernel import FhirKernel
from shared.observability.correlation import CorrelationMiddleware
from shared.observability.metrics import MetricsMiddleware, metrics_endpoint, watch_engine_pool
from shared.observability.tracing import configure_tracing, instrument_app, instrument_engine
from shared.web.errors import install_error_handlers

__all__ = ["ReadinessCheck", "service_app"]

ReadinessCheck = Callable[[], Awaitable[bool]]


def database_check(engine: Engine) -> ReadinessCheck:
    def ping() -> bool:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return True

    async def check() -> bool:
        try:
            return await anyio.to_thread.run_sync(ping)
        except Exception:  # any failure means "not ready"
            return False

    return check


def service_app(
    kernel: FhirKernel,
    *,
    title: str,
    description: str = "",
    routers: Sequence[APIRouter] = (),
    lifespan_parts: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[Any]]] = (),
    readiness: dict[str, ReadinessCheck] | None = None,
) -> FastAPI:
    """A FastAPI app serving ``kernel`` under ``/fhir`` plus ``/healthz`` and ``/readyz``."""
    checks = {"database": database_check(kernel.engine), **(readiness or {})}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _enter_all(app, lifespan_parts):
            yield

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.add_middleware(CorrelationMiddleware)
    app.add_middleware(MetricsMiddleware, service=kernel.service)  # outermost: times everything
    install_error_handlers(app)
    app.include_router(kernel.router())
    for router in routers:
        app.include_router(router)

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok", "service": kernel.service})

    @app.get("/readyz", tags=["health"], summary="The database is reachable and the bus connected")
    async def readyz() -> Response:
        results = {name: await check() for name, check in checks.items()}
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not-ready", "checks": results},
            status_code=200 if ready else 503,
        )

    # Open like /healthz; left out of the OpenAPI document, which describes the FHIR API.
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    watch_engine_pool(kernel.service, kernel.engine)
    if configure_tracing(kernel.service):  # only when OTEL_EXPORTER_OTLP_ENDPOINT is set
        instrument_app(app, kernel.service)
        instrument_engine(kernel.engine)

    app.state.kernel = kernel
    return app


@asynccontextmanager
async def _enter_all(
    app: FastAPI, parts: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[Any]]]
) -> AsyncIterator[None]:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        for part in parts:
            await stack.enter_async_context(part(app))
        yield
