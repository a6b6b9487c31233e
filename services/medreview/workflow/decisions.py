"""The GP's decision on a taper step, whether it comes back as ``gp.task-completed`` or through our API.

Approval turns the step's proposal into an ``intent`` order MedicationRequest (``priorPrescription`` the
one it replaces, which is marked stopped), emits ``prescription.changed`` and ``taper.approved``, and asks
for the next step. Decline records the GP's reason, ends the plan (``revoked``; a new, gentler plan can be
proposed from the current dose) and emits ``taper.declined``. A step is only ordered if it lowers the
current dose: one that no longer would (the GP record changed meanwhile) is refused and treated as
declined.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from services.medreview.domain.ome import oral_morphine_equivalent
from services.medreview.fhir_mapping import (
    APPROVE_STEP,
    REVIEW,
    Decision,
    Outcome,
    StepRecord,
    moved,
    moved_activity,
    order_from_proposal,
    outcome_of,
    task_identifier,
)
from services.medreview.fhir_mapping.codes import GP_TASK_TYPE, STEP_DECLINED, has_coding
from services.medreview.repository import repository
from services.medreview.workflow.planning import (
    APPROVAL_LEAD_DAYS,
    add_progress,
    announce,
    cancel_step,
    plan_steps,
    replaced_by,
    request_next_approval,
    set_note,
    store_plan,
)
from services.medreview.workflow.step_back import BACK
from shared.contracts import (
    PRESCRIPTION_CHANGED_V1,
    TAPER_APPROVED_V1,
    TAPER_DECLINED_V1,
    CloudEvent,
)
from shared.fhir import Conflict, UnitOfWork, Unprocessable, format_instant

__all__ = ["decide_step", "on_task_completed"]

log = logging.getLogger(__name__)
DONE = frozenset({"completed", "rejected", "cancelled", "failed", "entered-in-error"})


def on_task_completed(s: UnitOfWork, event: CloudEvent, *, lead_days: int = APPROVAL_LEAD_DAYS) -> None:
    """``gp.task-completed``: apply the GP's decision on one of our approval Tasks; others are not ours."""
    identifier = task_identifier(event.data)
    task = repository(s).task(s.conn, identifier, s.tenants) if identifier else None
    if task is None and identifier is None and event.data.get("id"):  # an answer that lost our identifier
        task = repository(s).find(s.conn, f"Task/{event.data['id']}", s.tenants)
    if task is None or not _decides_a_step(task):
        return
    outcome = outcome_of(event.data)
    if outcome is None:
        raise ValueError("gp.task-completed for an approval Task carries neither an approval nor a decline")
    try:
        decide_step(s, task, outcome, answer=event.data, lead_days=lead_days)
    except Conflict as exc:  # a step the plan no longer proposes (paused, re-planned, ended): nothing to do
        log.info("gp.task-completed %s not applied: %s", event.id, exc.diagnostics)


def decide_step(
    s: UnitOfWork,
    task: dict[str, Any],
    outcome: Outcome,
    *,
    answer: Mapping[str, Any] | None = None,
    lead_days: int = APPROVAL_LEAD_DAYS,
) -> dict[str, Any]:
    """Apply the GP's decision on an ``approve-taper-step`` Task; the updated Task.

    A repeat of the decision already recorded changes nothing; a different decision on a decided Task, or a
    decision on a step the plan no longer proposes, is a 409.
    """
    if not _decides_a_step(task):
        raise Unprocessable("Only an approve-taper-step Task (or a review of a step back) is decided here")
    if task.get("status") in DONE:
        previous = outcome_of(task)
        if previous is not None and previous.decision == outcome.decision:
            return task
        raise Conflict(f"Task/{task['id']} was already closed ({task.get('status')})")
    careplan_ref = next((str(b["reference"]) for b in task.get("basedOn") or [] if "reference" in b), "")
    careplan = repository(s).read(s.conn, careplan_ref, s.tenants)
    focus = str((task.get("focus") or {}).get("reference", ""))
    steps = plan_steps(s, careplan)
    step = next((st for st in steps if st.proposal == focus), None)
    running = (
        ("draft", "active", "on-hold") if step is not None and step.action == BACK else ("draft", "active")
    )
    if step is None or not step.pending or careplan.get("status") not in running:
        raise Conflict(
            f"{focus} is no longer a proposed step of {careplan_ref} (paused, re-planned or ended)"
        )
    s = s.owned_by(s.practice_of(careplan_ref) or s.practice)
    closed = {**task, "lastModified": format_instant(s.now)}
    for key in ("output", "statusReason", "note"):
        if answer is not None and answer.get(key):
            closed[key] = answer[key]
    if outcome.decision is Decision.APPROVED:
        late = (s.now.date() - step.date).days
        if late > 0:  # approved after its date: it starts today, and every later step as much later
            steps, step = _moved_on(s, careplan, steps, step, late)
        refusal = _increase(s, steps, step)
        if refusal is None:
            order = _approve(s, careplan, steps, step, lead_days)
            output = {
                "type": {"text": "order"},
                "valueReference": {"reference": f"MedicationRequest/{order}"},
            }
            closed |= {"status": "completed", "businessStatus": {"text": "approved"}}
            closed["output"] = [*closed.get("output", []), output]
            return s.update(closed)
        outcome = Outcome(Decision.DECLINED, refusal)
    reason = outcome.reason or "No reason given"
    closed |= {"status": "rejected", "businessStatus": {"text": "declined"}, "statusReason": {"text": reason}}
    stored = s.update(closed)  # closed first, so that cancelling the step finds no open Task to cancel
    _decline(s, careplan, steps, step, reason)
    return stored


def _moved_on(
    s: UnitOfWork, careplan: dict[str, Any], steps: Sequence[StepRecord], step: StepRecord, days: int
) -> tuple[list[StepRecord], StepRecord]:
    """Move ``step`` and every later pending step ``days`` on; the steps read again and the step."""
    for later in steps:
        if later.index < step.index or not later.pending:
            continue
        for reference in later.proposals:  # every order of the step
            s.update(moved(repository(s).read(s.conn, reference, s.tenants), days))
        if later.proposal is None:
            careplan["activity"][later.index] = moved_activity(careplan["activity"][later.index], days)
    add_progress(
        s,
        careplan,
        step,
        f"Approved {days} day(s) after its date: it and every later step move {days} day(s) on",
    )
    moved_steps = plan_steps(s, careplan)
    return moved_steps, next(st for st in moved_steps if st.index == step.index)


def _prior(steps: Sequence[StepRecord], step: StepRecord) -> tuple[str, ...]:
    return replaced_by(steps, step)


def _decides_a_step(task: Mapping[str, Any]) -> bool:
    """An approval Task, or a review Task about a step back (its focus the step's MedicationRequest)."""
    if has_coding(task.get("code"), GP_TASK_TYPE, APPROVE_STEP):
        return True
    focus = str((task.get("focus") or {}).get("reference", ""))
    return has_coding(task.get("code"), GP_TASK_TYPE, REVIEW) and focus.startswith("MedicationRequest/")


def _increase(s: UnitOfWork, steps: Sequence[StepRecord], step: StepRecord) -> str | None:
    """Why ordering the step would not lower the current dose, or ``None`` when it would. A step back raises
    it on purpose, and is checked instead against the dose the plan started from."""
    if step.proposal is None or step.action == "stop":
        return None
    if step.action == BACK:
        return None
    priors = [repository(s).find(s.conn, ref, s.tenants) for ref in _prior(steps, step)]
    proposals = [repository(s).read(s.conn, ref, s.tenants) for ref in step.proposals]
    found = [p for p in priors if p is not None]
    if len(found) < len(priors):
        return "Not ordered: the prescription this step reduces is no longer on the record; re-plan"
    medications = repository(s).medications(s.conn, found, s.tenants)
    before = oral_morphine_equivalent(found, medications=medications)
    after = oral_morphine_equivalent([{**p, "status": "active"} for p in proposals])
    if unknown := before.not_computable + after.not_computable:
        reasons = "; ".join(f"{m.name or m.reference}: {m.reason}" for m in unknown)
        return f"Not ordered: a dose could not be computed ({reasons}); prescriber to review and re-plan"
    if after.total_mg_per_day > before.total_mg_per_day:
        return (
            "Not ordered: the step would not lower the current prescription "
            f"({before.total_mg_per_day.normalize():f} mg OME a day now); re-plan from the current dose"
        )
    return None


def _approve(
    s: UnitOfWork, careplan: dict[str, Any], steps: Sequence[StepRecord], step: StepRecord, lead_days: int
) -> str:
    """Order the step: the order replaces the prior prescription (stopped), the proposal is completed, the
    order is the activity's outcome; holds before the step are done."""
    assert step.proposal is not None
    priors = _prior(steps, step)
    orders = []
    for reference in step.proposals:  # one order per strength of the step, each replacing every prior
        proposal = repository(s).read(s.conn, reference, s.tenants)
        orders.append(
            s.create(
                order_from_proposal(proposal, prior=priors[0], priors=priors, authored=s.now, requester=None)
            )
        )
        s.update({**proposal, "status": "completed"})
    replaced = []
    for prior_ref in priors:
        prior = repository(s).find(s.conn, prior_ref, s.tenants)
        if prior is not None:
            replaced.append(s.update({**prior, "status": "stopped"}))
    for earlier in steps:
        if earlier.index < step.index and earlier.pending and earlier.proposal is None:
            careplan["activity"][earlier.index]["detail"]["status"] = "completed"
    activity = careplan["activity"][step.index]
    ordered = [f"MedicationRequest/{o['id']}" for o in orders]
    activity["outcomeReference"] = [{"reference": ref} for ref in ordered]
    add_progress(s, careplan, step, f"Approved by the GP: ordered as {', '.join(ordered)}")
    careplan["status"] = "on-hold" if step.action == BACK else "active"  # a step back waits for a resume
    stored = store_plan(s, careplan)
    order = orders[0]
    entries = [*orders, *replaced]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in entries],
    }
    s.emit(PRESCRIPTION_CHANGED_V1, f"MedicationRequest/{order['id']}", bundle)
    announce(s, TAPER_APPROVED_V1, stored)
    request_next_approval(s, stored, lead_days=lead_days)
    return str(order["id"])


def _decline(
    s: UnitOfWork, careplan: dict[str, Any], steps: Sequence[StepRecord], step: StepRecord, reason: str
) -> None:
    cancel_step(s, careplan, step, reason, STEP_DECLINED)
    for later in steps:
        if later.index > step.index and later.pending:
            cancel_step(s, careplan, later, f"Not proposed: step {step.number} was declined")
    careplan["status"] = "revoked"
    set_note(s, careplan, f"Step {step.number} declined: {reason}")
    stored = store_plan(s, careplan)
    announce(s, TAPER_DECLINED_V1, stored)
