"""The gpconnect service app: its resources, operations and event handlers, wired to the kernel."""

from __future__ import annotations

from pathlib import Path

from services.gpconnect.settings import GpconnectSettings
from shared.bus import Transport
from shared.fhir import Authenticator, RateLimiter
from shared.web import ServiceParts, build_service

__all__ = ["RESOURCES", "create_service"]

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = (
    "Reads the GP record (GP Connect), writes tasks, prescription changes and documents back to GP systems."
)

RESOURCES: tuple[str, ...] = ()


def create_service(
    settings: GpconnectSettings,
    *,
    authenticator: Authenticator,
    transport: Transport,
    rate_limiter: RateLimiter | None = None,
) -> ServiceParts:
    return build_service(
        settings,
        title="pain-review gpconnect",
        description=DESCRIPTION,
        authenticator=authenticator,
        transport=transport,
        rate_limiter=rate_limiter,
        resources=RESOURCES,
        migrations_dir=MIGRATIONS,
    )
