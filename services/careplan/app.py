"""The careplan service app: its resources, operations and event handlers, wired to the kernel."""

from __future__ import annotations

from pathlib import Path

from services.careplan.consumers import CareplanHandlers, consumers
from services.careplan.domain.catalogue import definitions
from services.careplan.operations.attendance import AttendanceOperations
from services.careplan.operations.mdt import MdtOperations
from services.careplan.operations.plan import PlanOperations
from services.careplan.operations.reads import ReadOperations
from services.careplan.operations.review import ReviewOperations
from services.careplan.operations.sessions import SessionOperations
from services.careplan.settings import CareplanSettings
from services.careplan.write_rules import WriteRules
from shared.bus import Transport
from shared.fhir import Authenticator, FhirKernel, RateLimiter
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
    "Schedule",
    "Slot",
    "RelatedPerson",
    "List",
    "QuestionnaireResponse",
    "Questionnaire",
    "PlanDefinition",
    "CodeSystem",
    "ValueSet",
    "Measure",
    "MeasureReport",
    "Task",
    # The PROMs as of a follow-up after discharge (domain/follow_up_proms.py; medreview's follow-up.recorded).
    "Observation",
)


def create_service(
    settings: CareplanSettings,
    *,
    authenticator: Authenticator,
    transport: Transport,
    rate_limiter: RateLimiter | None = None,
) -> ServiceParts:
    specialists = {
        role: name
        for role, name in (
            ("pain-consultant", settings.pain_consultant),
            ("addiction-psychiatrist", settings.addiction_psychiatrist),
        )
        if name
    }

    def configure(kernel: FhirKernel) -> None:
        rules = WriteRules(kernel, settings.community_budget_gbp)
        kernel.resource("CarePlan", on_write=rules.careplan_written)
        kernel.resource("ServiceRequest", on_write=rules.service_request_written)
        kernel.resource("QuestionnaireResponse", on_write=rules.response_written)
        PlanOperations(kernel, rules).register()
        ReadOperations(kernel, rules).register()
        ReviewOperations(
            kernel, weekday=settings.mdt_weekday, at=settings.mdt_time, minutes=settings.mdt_minutes
        ).register()
        SessionOperations(kernel).register()
        AttendanceOperations(kernel).register()
        MdtOperations(
            kernel, rules, weekday=settings.mdt_weekday, at=settings.mdt_time, minutes=settings.mdt_minutes
        ).register()

    return build_service(
        settings,
        title="pain-review careplan",
        description=DESCRIPTION,
        authenticator=authenticator,
        transport=transport,
        rate_limiter=rate_limiter,
        resources=RESOURCES,
        consumers=lambda kernel: consumers(CareplanHandlers(kernel, specialists)),
        migrations_dir=MIGRATIONS,
        configure=configure,
        # The catalogue, templates, questionnaire and measure (``data/``): read by every practice.
        published=definitions(),
    )
