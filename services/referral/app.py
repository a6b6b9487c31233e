"""The referral service app: its resources, operations and event handlers, wired to the kernel."""

from __future__ import annotations

from pathlib import Path

from services.referral.settings import ReferralSettings
from shared.bus import Transport
from shared.fhir import Authenticator, RateLimiter
from shared.web import ServiceParts, build_service

__all__ = ["RESOURCES", "create_service"]

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = (
    "BaRS-style referral intake, eligibility, explainable screening, invitations, consent and enrolment."
)

RESOURCES: tuple[str, ...] = (
    "Patient",
    "ServiceRequest",
    "Task",
    "Communication",
    "Consent",
    "EpisodeOfCare",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
)


def create_service(
    settings: ReferralSettings,
    *,
    authenticator: Authenticator,
    transport: Transport,
    rate_limiter: RateLimiter | None = None,
) -> ServiceParts:
    return build_service(
        settings,
        title="pain-review referral",
        description=DESCRIPTION,
        authenticator=authenticator,
        transport=transport,
        rate_limiter=rate_limiter,
        resources=RESOURCES,
        migrations_dir=MIGRATIONS,
    )
