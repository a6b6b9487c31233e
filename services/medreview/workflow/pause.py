"""Pause and slow down: a withdrawal score at or above the threshold, or the patient asking, pauses the plan.

Pausing puts the CarePlan on hold (``taper.paused``, its note says why), cancels every step not yet approved
(and its unanswered Task), asks the GP to review (a ``review`` Task), and re-plans from the dose the patient
takes now, more slowly (by default twice the interval). Nothing in a re-plan is above the current dose, and
the current dose only ever comes from the GP record or a GP-approved order: the plan never increases a dose.
Resuming re-plans from the day it resumes and asks the GP to approve the next step.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from services.medreview.domain.taper import TaperPolicy, plan_taper
from services.medreview.fhir_mapping import REVIEW, gp_task, policy_extension, policy_of
from services.medreview.fhir_mapping.codes import OBSERVATION_CODES, SOWS_TOTAL, has_coding
from services.medreview.repository import repository
from services.medreview.workflow.planning import (
    APPROVAL_LEAD_DAYS,
    add_steps,
    announce,
    cancel_step,
    plan_steps,
    request_next_approval,
    set_note,
    store_plan,
    taper_input,
)
from shared.contracts import GP_TASK_REQUESTED_V1, TAPER_PAUSED_V1
from shared.fhir import Conflict, UnitOfWork, Unprocessable

__all__ = ["on_withdrawal_score", "pause_taper", "resume_taper", "slower", "withdrawal_score"]

FINAL = frozenset({"final", "amended", "corrected"})


def slower(policy: TaperPolicy) -> TaperPolicy:
    """The default slow-down after a pause: the same steps, twice the interval."""
    return replace(policy, interval_days=policy.interval_days * 2)


def withdrawal_score(observation: dict[str, Any]) -> Decimal | None:
    """A final SOWS total score (``medreview-observation#sows-total``), else ``None``."""
    if observation.get("status") not in FINAL:
        return None
    if not has_coding(observation.get("code"), OBSERVATION_CODES, SOWS_TOTAL):
        return None
    value = (observation.get("valueQuantity") or {}).get("value", observation.get("valueInteger"))
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def on_withdrawal_score(
    s: UnitOfWork, observation: dict[str, Any], threshold: Decimal
) -> list[dict[str, Any]]:
    """Pause the patient's running taper when a withdrawal score is at or above ``threshold``."""
    score = withdrawal_score(observation)
    patient = str((observation.get("subject") or {}).get("reference", ""))
    if score is None or score < threshold or not patient.startswith("Patient/"):
        return []
    effective = str(observation.get("effectiveDateTime") or "")[:10]
    on = date.fromisoformat(effective) if effective else s.now.date()
    why = f"withdrawal score {score.normalize():f} (SOWS) is at or above the threshold of {threshold}"
    evidence = f"Observation/{observation['id']}"
    return [
        pause_taper(s, plan, why=why, on=on, evidence=evidence)
        for plan in repository(s).taper_plans(s.conn, patient, s.tenants, statuses=("draft", "active"))
    ]


def pause_taper(
    s: UnitOfWork,
    careplan: dict[str, Any],
    *,
    why: str,
    on: date,
    policy: TaperPolicy | None = None,
    evidence: str | None = None,
) -> dict[str, Any]:
    """Put a draft or active plan on hold and re-plan it more slowly (see the module doc)."""
    if careplan.get("status") not in ("draft", "active"):
        raise Conflict(f"CarePlan/{careplan['id']} is {careplan.get('status')}: only a running plan pauses")
    s = s.owned_by(s.practice_of(f"CarePlan/{careplan['id']}") or s.practice)
    current, _ = policy_of(careplan)
    careplan = _replan(s, careplan, on, policy or slower(current), f"Re-planned after a pause: {why}")
    careplan["status"] = "on-hold"
    set_note(s, careplan, f"Paused on {on.isoformat()}: {why}. No step goes ahead until it is resumed.")
    if evidence:
        careplan["supportingInfo"] = [*careplan.get("supportingInfo", []), {"reference": evidence}]
    stored = store_plan(s, careplan)
    announce(s, TAPER_PAUSED_V1, stored)
    task = s.create(
        gp_task(
            REVIEW,
            patient=str(stored["subject"]["reference"]),
            focus=f"CarePlan/{stored['id']}",
            practice=s.practice,
            authored=s.now,
            description="Review a paused opioid dose reduction",
            summary=(
                f"The opioid dose reduction was paused on {on.isoformat()}: {why}. It has been re-planned "
                "more slowly from the current dose; no step goes ahead until it is resumed. The patient may "
                "want to talk to a GP."
            ),
            based_on=f"CarePlan/{stored['id']}",
        )
    )
    s.emit(GP_TASK_REQUESTED_V1, f"Task/{task['id']}", task)
    return stored


def resume_taper(
    s: UnitOfWork,
    careplan: dict[str, Any],
    *,
    on: date,
    policy: TaperPolicy | None = None,
    lead_days: int = APPROVAL_LEAD_DAYS,
) -> dict[str, Any]:
    """Resume a paused plan: re-plan from ``on`` and ask the GP to approve the next step."""
    if careplan.get("status") != "on-hold":
        raise Conflict(f"CarePlan/{careplan['id']} is {careplan.get('status')}: only a paused plan resumes")
    s = s.owned_by(s.practice_of(f"CarePlan/{careplan['id']}") or s.practice)
    current, _ = policy_of(careplan)
    careplan = _replan(s, careplan, on, policy or current, "Re-planned on resuming")
    careplan["status"] = "active" if any(st.approved for st in plan_steps(s, careplan)) else "draft"
    set_note(s, careplan, f"Resumed on {on.isoformat()}")
    stored = store_plan(s, careplan)
    request_next_approval(s, stored, lead_days=lead_days)
    return stored


def _replan(
    s: UnitOfWork, careplan: dict[str, Any], on: date, policy: TaperPolicy, reason: str
) -> dict[str, Any]:
    """Cancel the steps not yet approved and plan again from today's regimen, keeping the baseline and
    counting the approved reductions against the monthly cap. A plan that cannot be re-planned (a dose not
    computable...) keeps no pending step, and its note says why."""
    careplan = copy.deepcopy(careplan)
    steps = plan_steps(s, careplan)
    for step in steps:
        if step.pending:
            cancel_step(s, careplan, step, reason)
    _, baseline = policy_of(careplan)
    careplan["extension"] = [
        e for e in careplan.get("extension", []) if e.get("url") != policy_extension(policy, baseline)["url"]
    ] + [policy_extension(policy, baseline)]
    patient = str(careplan["subject"]["reference"])
    try:
        found = taper_input(s, patient)
    except Unprocessable as exc:
        set_note(s, careplan, f"Could not re-plan on {on.isoformat()}: {exc.diagnostics}")
        return careplan
    history = [(st.date, st.reduction) for st in steps if st.approved]
    plan = plan_taper(found.items, on, policy, baseline_ome_mg_per_day=baseline, history=history)
    first = max((st.number for st in steps), default=0) + 1
    reference = f"CarePlan/{careplan['id']}"
    careplan["activity"] += add_steps(
        s,
        plan,
        found.products,
        brands=found.brands,
        once_daily=found.once_daily,
        patient=patient,
        careplan=reference,
        first=first,
    )
    if plan.blocked_reason:
        set_note(s, careplan, f"The re-plan stops short of its target: {plan.blocked_reason}")
    return careplan
