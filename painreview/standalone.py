"""Production mode: one service per process (``pain-review serve <service>``), configured from the
environment, with PostgreSQL and NATS; or the embedded issuer alone (``serve auth``) for
production-shaped local runs that have no external issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from painreview.registry import SERVICES
from shared.auth import (
    Authenticator,
    AuthSettings,
    embedded_issuer,
    issuer_router,
    smart_configuration_router,
)
from shared.auth.issuer.router import token_rate_limiter
from shared.bus import transport_from_url
from shared.observability import CorrelationMiddleware
from shared.web import install_error_handlers

__all__ = ["create_auth_app", "create_service_app"]


def create_service_app(name: str) -> FastAPI:
    entry = SERVICES[name]
    settings = entry.load_settings()
    authenticator = Authenticator.from_settings(AuthSettings())
    parts = entry.create(
        settings, authenticator=authenticator, transport=transport_from_url(settings.nats_url)
    )
    # This process owns its transport: subscribe, connect, then relay; the reverse on shutdown.
    inner = parts.app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app), parts.events.running_alone():
            yield

    parts.app.router.lifespan_context = lifespan
    return parts.app


def create_auth_app() -> FastAPI:
    auth = AuthSettings()
    app = FastAPI(title="pain-review token endpoint", version="0.1.0")
    app.add_middleware(CorrelationMiddleware)
    install_error_handlers(app)
    app.include_router(issuer_router(embedded_issuer(auth), rate_limiter=token_rate_limiter(auth)))
    app.include_router(
        smart_configuration_router(
            issuer=auth.issuer,
            token_endpoint=auth.token_endpoint,
            jwks_uri=auth.jwks_uri,
            scopes_supported=("system/*.cruds",),
        )
    )

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app
