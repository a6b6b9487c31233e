"""``patient.discharged``: the patient left the service, so an open taper plan ends.

The plan is closed on the episode's end date: ``completed`` when the GP had ordered at least one step (the
patient keeps the dose last approved; the plan is no longer followed), ``revoked`` when no step was ever
ordered (the GP never agreed to it). Every step still proposed is withdrawn (its MedicationRequest
cancelled) and every Task the practice has not answered (an approval, a review after a pause) is cancelled
here. Nothing is announced: no taper event means "ended by discharge", careplan closes its own plan on the
same event, and the GP system is not told that its open Task was cancelled (an answer to it later changes
nothing: a decided or cancelled Task is not applied).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from services.medreview.repository import repository
from services.medreview.workflow.planning import cancel_step, plan_steps, set_note, store_plan
from shared.contracts import CloudEvent
from shared.fhir import UnitOfWork, format_instant, record_enrolment_event

__all__ = ["close_taper", "on_patient_discharged"]

log = logging.getLogger(__name__)


def on_patient_discharged(s: UnitOfWork, event: CloudEvent) -> None:
    """Close the patient's open taper plans (draft, active, on hold) as of the episode's end."""
    episode = event.data
    record_enrolment_event(s.conn, practice=event.practice, data=episode, at=event.time, discharged=True)
    patient = str((episode.get("patient") or {}).get("reference", ""))
    if not patient.startswith("Patient/"):
        log.warning("patient.discharged %s names no patient: nothing to close", event.id)
        return
    end = str((episode.get("period") or {}).get("end") or "")[:10]
    on = date.fromisoformat(end) if end else event.time.date()
    for plan in repository(s).taper_plans(s.conn, patient, s.tenants):
        close_taper(s, plan, on=on)


def close_taper(s: UnitOfWork, careplan: dict[str, Any], *, on: date) -> dict[str, Any]:
    """End an open taper plan on discharge (see the module doc); the stored plan."""
    s = s.owned_by(s.practice_of(f"CarePlan/{careplan['id']}") or s.practice)
    why = f"the patient was discharged from the service on {on.isoformat()}"
    steps = plan_steps(s, careplan)
    for step in steps:
        if step.pending:
            cancel_step(s, careplan, step, f"Not proposed: {why}")
    for task in repository(s).open_tasks(s.conn, f"CarePlan/{careplan['id']}", s.tenants):
        s.update(
            {
                **task,
                "status": "cancelled",
                "statusReason": {"text": why},
                "lastModified": format_instant(s.now),
            }
        )
    ordered = sum(1 for st in steps if st.approved)
    careplan["status"] = "completed" if ordered else "revoked"
    careplan["period"] = {**(careplan.get("period") or {}), "end": format_instant(on)}
    set_note(
        s,
        careplan,
        f"Ended: {why}. {ordered} step(s) had been ordered"
        + ("; the patient keeps the dose the GP last approved." if ordered else "; no dose was changed."),
    )
    return store_plan(s, careplan)
