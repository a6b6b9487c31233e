"""Proposing a taper plan: from the patient's current opioids, a CarePlan of proposed steps for the GP."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.medreview.domain.pace import first_opioid_use, is_long_term
from services.medreview.domain.taper import TaperPolicy, plan_taper
from services.medreview.fhir_mapping import taper_careplan
from services.medreview.fhir_mapping.gp_view import AGREEMENT_URL
from services.medreview.repository import repository
from services.medreview.workflow.gates import gate_note
from services.medreview.workflow.planning import (
    APPROVAL_LEAD_DAYS,
    add_steps,
    announce,
    request_next_approval,
    taper_input,
)
from services.medreview.workflow.review import patient_owned
from shared.contracts import TAPER_PROPOSED_V1
from shared.fhir import Conflict, UnitOfWork, Unprocessable, format_instant, new_id
from shared.terminology import load_product_catalogue

__all__ = ["inferred_pace", "propose_taper"]


def inferred_pace(s: UnitOfWork, patient: str, on: date) -> tuple[TaperPolicy, str]:
    """The default policy for the patient's length of opioid use as the record tells it (``pace``), and a
    sentence saying why, for the plan."""
    stored = repository(s).patient_medications(s.conn, patient, s.tenants)
    first = first_opioid_use(
        stored, load_product_catalogue(), repository(s).medications(s.conn, stored, s.tenants)
    )
    if is_long_term(first, on):
        return TaperPolicy.long_term_use(), (
            f"Opioids used since {first}: a year or more, so 10% of the starting dose a month "
            "(a clinician may say otherwise with longTermUse)."
        )
    since = f"since {first}" if first else "for an unknown time (no date on the record)"
    return TaperPolicy.uk_default(), (
        f"Opioids used {since}: under a year as far as the record shows, so 10% of the starting dose every "
        "2 weeks (a clinician may say otherwise with longTermUse)."
    )


def propose_taper(
    s: UnitOfWork,
    patient: str,
    policy: TaperPolicy,
    start: date,
    factor_table: str,
    *,
    pace: str | None = None,
    agreed: str | None = None,
    lead_days: int = APPROVAL_LEAD_DAYS,
) -> dict[str, Any]:
    """Plan a taper from the current regimen and store it as a draft CarePlan with one proposed
    MedicationRequest per reduction; emit ``taper.proposed`` (the plan and those MedicationRequests) and ask
    the GP to approve the first step.

    409 when the patient already has an open (draft, active or paused) taper plan; 422 when the regimen
    cannot be tapered (a dose not computable, no opioid, nothing to reduce within the monthly cap).
    """
    open_plans = repository(s).taper_plans(s.conn, patient, s.tenants)
    if open_plans:
        raise Conflict(
            f"{patient} already has an open taper plan (CarePlan/{open_plans[0]['id']}, "
            f"{open_plans[0]['status']}): pause, resume or revoke it rather than proposing another"
        )
    gated = gate_note(s, patient, factor_table)  # 422 until an MDT or specialist review agreed a taper
    found = taper_input(s, patient, factor_table)
    plan = plan_taper(found.items, start, policy)
    if not plan.steps:
        raise Unprocessable(plan.blocked_reason or f"{patient} is already at or below the target dose")
    s = patient_owned(s, found.regimen)
    careplan_id = new_id()
    activities = add_steps(
        s,
        plan,
        found.products,
        brands=found.brands,
        once_daily=found.once_daily,
        patient=patient,
        careplan=f"CarePlan/{careplan_id}",
        first=1,
    )
    reductions = sum(1 for a in activities if a.get("reference"))
    description = (
        f"From {plan.starting_ome_mg_per_day.normalize():f} to {plan.final_ome_mg_per_day.normalize():f} mg "
        f"OME a day in {reductions} reduction(s) over {len(plan.steps)} step(s), every "
        f"{policy.interval_days} days at most {policy.step_percent.normalize():f}% of the "
        f"{policy.step_basis.value} dose. Each reduction needs the GP's approval; the patient may pause "
        "at any time."
    )
    careplan = taper_careplan(
        plan, patient=patient, created=s.now, activities=activities, description=description
    )
    if agreed:  # when the patient agreed the plan: the GP sees it on every approval Task
        careplan["extension"] = [
            *careplan.get("extension", []),
            {"url": AGREEMENT_URL, "valueDateTime": agreed},
        ]
    for text in (gated, pace):
        if text:
            careplan["note"] = [*careplan.get("note", []), {"time": format_instant(s.now), "text": text}]
    stored = s.create(careplan, resource_id=careplan_id)
    announce(s, TAPER_PROPOSED_V1, stored)
    request_next_approval(s, stored, lead_days=lead_days)
    return stored
