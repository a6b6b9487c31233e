"""The careplan service app: its resources, operations and event handlers, wired to the kernel."""

from __future__ import annotations

from pathlib import Path

from services.careplan.settings import CareplanSettings
from shared.bus import Transport
from shared.fhir import Authenticator, RateLimiter
from shared.web import ServiceParts, build_service

__all__ = ["RESOURCES", "create_service"]

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = (
    "Co-produced pain management plans, sessions, social prescribing, MDT reviews and the service evaluation."
)

RESOURCES: tuple[str, ...] = (
    "CarePlan",
    "Goal",
    "CareTeam",
    "Encounter",
    "ServiceRequest",
    "Appointment",
    "QuestionnaireResponse",
    "Questionnaire",
    "PlanDefinition",
    "CodeSystem",
    "ValueSet",
    "Measure",
    "MeasureReport",
    "Task",
)


def create_service(
    settings: CareplanSettings,
    *,
    authenticator: Authenticator,
    transport: Transport,
    rate_limiter: RateLimiter | None = None,
) -> ServiceParts:
    return build_service(
        settings,
        title="pain-review careplan",
        description=DESCRIPTION,
        authenticator=authenticator,
        transport=transport,
        rate_limiter=rate_limiter,
        resources=RESOURCES,
        migrations_dir=MIGRATIONS,
    )
