"""The medreview service app: its resources, operations and event handlers, wired to the kernel."""

from __future__ import annotations

from pathlib import Path

from services.medreview.settings import MedreviewSettings
from shared.bus import Transport
from shared.fhir import Authenticator, RateLimiter
from shared.web import ServiceParts, build_service

__all__ = ["RESOURCES", "create_service"]

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = "Oral morphine equivalent, risk flags, patient-paced taper plans with GP approval, CDS Hooks."

RESOURCES: tuple[str, ...] = (
    "MedicationRequest",
    "MedicationStatement",
    "Medication",
    "DetectedIssue",
    "Observation",
    "CarePlan",
    "Task",
)


def create_service(
    settings: MedreviewSettings,
    *,
    authenticator: Authenticator,
    transport: Transport,
    rate_limiter: RateLimiter | None = None,
) -> ServiceParts:
    return build_service(
        settings,
        title="pain-review medreview",
        description=DESCRIPTION,
        authenticator=authenticator,
        transport=transport,
        rate_limiter=rate_limiter,
        resources=RESOURCES,
        migrations_dir=MIGRATIONS,
    )
