"""The referral service app: its resources, operations and routes, wired to the kernel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from services.referral.fhir_mapping.codesystems import published_code_systems
from services.referral.operations import register_operations
from services.referral.operations.direct import patient_hook, service_request_hook
from services.referral.settings import ReferralSettings
from shared.bus import Transport
from shared.fhir import Authenticator, FhirKernel, RateLimiter
from shared.web import READ_ONLY, ServiceParts, build_service

__all__ = ["RESOURCES", "create_service"]

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = (
    "BaRS-style referral intake, eligibility, explainable screening, invitations, consent and enrolment."
)

#: Written over REST by GP systems (a ServiceRequest starts the referral workflow).
RESOURCES: tuple[str, ...] = (
    "Patient",
    "ServiceRequest",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
)
#: Written by the workflow's operations only: read, search and history over REST.
WORKFLOW_RESOURCES = ("Task", "Communication", "Consent", "EpisodeOfCare")
#: Supporting resources a BaRS message brings, stored with the referral and readable.
RECEIVED_RESOURCES = (
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "HealthcareService",
    "Encounter",
    "Flag",
    "Medication",
)


def _configure(settings: ReferralSettings) -> Callable[[FhirKernel], None]:
    def configure(kernel: FhirKernel) -> None:
        kernel.search_param("Flag", "patient", "reference", "subject")
        kernel.resource("Patient", on_write=patient_hook(kernel))
        kernel.resource(
            "ServiceRequest",
            on_write=service_request_hook(kernel),
            documentation="Referrals: a create starts the workflow (Task, eligibility, events)",
        )
        for resource_type in WORKFLOW_RESOURCES:
            kernel.resource(resource_type, interactions=READ_ONLY, documentation="Written by the workflow")
        for resource_type in RECEIVED_RESOURCES:
            kernel.resource(resource_type, interactions=READ_ONLY, documentation="Received with a referral")
        kernel.resource(
            "CodeSystem",
            interactions=READ_ONLY,
            documentation="Published CodeSystems: eligibility reasons, screening signals, referral states",
        )
        register_operations(kernel, settings)

    return configure


def create_service(
    settings: ReferralSettings,
    *,
    authenticator: Authenticator,
    transport: Transport,
    rate_limiter: RateLimiter | None = None,
) -> ServiceParts:
    parts = build_service(
        settings,
        title="pain-review referral",
        description=DESCRIPTION,
        authenticator=authenticator,
        transport=transport,
        rate_limiter=rate_limiter,
        resources=RESOURCES,
        migrations_dir=MIGRATIONS,
        configure=_configure(settings),
        published=published_code_systems(),
    )
    return parts
