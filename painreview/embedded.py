"""The embedded mode: every service in one process on one port, SQLite under ``./var``, in-process
events, and the embedded SMART token endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse

from painreview.registry import SERVICES
from shared.auth import (
    Authenticator,
    AuthSettings,
    embedded_issuer,
    issuer_router,
    smart_configuration_router,
)
from shared.auth.issuer.router import token_rate_limiter
from shared.bus import InProcessTransport
from shared.observability import CorrelationMiddleware
from shared.observability.metrics import metrics_endpoint
from shared.web import ServiceParts, install_error_handlers

__all__ = ["EmbeddedSystem", "create_embedded_system"]

SCOPES_SUPPORTED = ("system/*.cruds", "system/*.rs", "system/*.read", "system/*.write")


class EmbeddedSystem:
    def __init__(self, app: FastAPI, services: dict[str, ServiceParts], auth: AuthSettings) -> None:
        self.app = app
        self.services = services
        self.auth = auth


def create_embedded_system(
    var_dir: Path, *, with_simulator: bool = False, **auth_overrides: Any
) -> EmbeddedSystem:
    """Build the whole system; ``with_simulator`` mounts the GP practice simulator at /gp-simulator
    (behind its own token, ``<var>/gp-simulator.token``; never when the environment is production);
    ``auth_overrides`` adjust ``AuthSettings`` (e.g. rate limits in tests)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    auth = AuthSettings(var_dir=var_dir, mode="embedded", **auth_overrides)
    issuer = embedded_issuer(auth)
    authenticator = Authenticator.from_settings(auth)
    transport = InProcessTransport()
    services = {
        name: entry.create(
            entry.load_settings(var_dir=var_dir), authenticator=authenticator, transport=transport
        )
        for name, entry in SERVICES.items()
    }

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Mounted apps' lifespans do not run by themselves: enter each one here. Every consumer
        # subscribes before the transport starts, and relays start last, so nothing is published
        # to a consumer that is not listening yet.
        async with AsyncExitStack() as stack:
            for parts in services.values():
                await stack.enter_async_context(parts.app.router.lifespan_context(parts.app))
            for parts in services.values():
                await parts.events.subscribe()
            await transport.start()
            stack.push_async_callback(transport.close)
            for parts in services.values():
                await parts.events.start_relay()
                stack.push_async_callback(parts.events.close)
            yield

    app = FastAPI(title="pain-review (embedded)", version="0.1.0", lifespan=lifespan)
    app.add_middleware(CorrelationMiddleware)
    install_error_handlers(app)
    app.include_router(issuer_router(issuer, rate_limiter=token_rate_limiter(auth)))
    for prefix in ["", *(f"/{name}/fhir" for name in services)]:
        app.include_router(
            smart_configuration_router(
                issuer=auth.issuer,
                token_endpoint=auth.token_endpoint,
                jwks_uri=auth.jwks_uri,
                scopes_supported=SCOPES_SUPPORTED,
                prefix=prefix,
            )
        )

    @app.get("/", tags=["index"], summary="What runs here")
    async def index() -> JSONResponse:
        return JSONResponse(
            {
                "system": "pain-review",
                "mode": "embedded",
                "services": {
                    name: {
                        "fhir": f"/{name}/fhir",
                        "metadata": f"/{name}/fhir/metadata",
                        "health": f"/{name}/healthz",
                    }
                    for name in services
                },
                "token_endpoint": "/auth/token",
                # Where gpconnect sends documents: `pain-review demo` reads the MESH mailbox there.
                "mesh": getattr(services["gpconnect"].settings, "mesh_url", None)
                if "gpconnect" in services
                else None,
            }
        )

    @app.get("/healthz", tags=["health"])
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    # The whole process's metrics; every service's series carries its ``service`` label.
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)

    for name, parts in services.items():
        app.mount(f"/{name}", parts.app)
    if with_simulator:
        from painreview.simulator_app import SIMULATOR_MOUNT, embedded_simulator_app, simulator_allowed

        if simulator_allowed():
            app.mount(SIMULATOR_MOUNT, embedded_simulator_app(var_dir))
    return EmbeddedSystem(app, services, auth)
