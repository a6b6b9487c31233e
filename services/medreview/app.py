"""The medreview service app: its resources, operations and event handlers, wired to the kernel."""

from __future__ import annotations

from pathlib import Path

from services.medreview.cds_hooks import CdsHooks
from services.medreview.consumers import consumers
from services.medreview.domain.concerns import ConcernPolicy
from services.medreview.due_work import DueWork
from services.medreview.operations import register_operations
from services.medreview.repository import medreview_search_params
from services.medreview.settings import MedreviewSettings
from shared.bus import Transport
from shared.fhir import Authenticator, FhirKernel, RateLimiter, ResourceStore
from shared.web import READ_ONLY, LifespanPart, ServiceParts, build_service

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
    # The store the kernel will use: it searches the medication list's parameters too.
    store = ResourceStore(
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        search_params=medreview_search_params(),
    )
    concern_policy = ConcernPolicy(
        pause_severity=settings.concern_pause_severity,
        answer_hours=(
            ("asap", settings.concern_answer_hours_asap),
            ("urgent", settings.concern_answer_hours_urgent),
        ),
    )
    due: list[DueWork] = []

    def configure(kernel: FhirKernel) -> None:
        kernel.resource(
            "List",
            interactions=READ_ONLY,
            documentation="Each patient's medication list as last synced (code medications); read-only",
        )
        register_operations(
            kernel,
            withdrawal_pause_score=settings.withdrawal_pause_score,
            concern_policy=concern_policy,
            approval_lead_days=settings.approval_lead_days,
        )

    def due_work(kernel: FhirKernel) -> list[LifespanPart]:
        due.append(DueWork(kernel, concern_policy, interval_s=settings.due_check_seconds))
        return [due[-1].lifespan]

    parts = build_service(
        settings,
        title="pain-review medreview",
        description=DESCRIPTION,
        authenticator=authenticator,
        transport=transport,
        rate_limiter=rate_limiter,
        resources=RESOURCES,
        consumers=lambda kernel: consumers(
            kernel,
            approval_lead_days=settings.approval_lead_days,
            follow_up_months=settings.follow_up_months,
        ),
        migrations_dir=MIGRATIONS,
        configure=configure,
        routers=lambda kernel: [CdsHooks(kernel).router()],
        store=store,
        clock=settings.clock(),  # the system clock, or a movable one in development and tests
        lifespan_parts=due_work,
    )
    parts.app.state.due_work = due[-1]  # a test moves the clock and runs a pass (``run_once``)
    return parts
