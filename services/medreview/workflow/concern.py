"""A concern raised during a reduction: to the practice as a prioritised Task, pausing the plan when it
should, answered or escalated (the rules: ``services/medreview/domain/concerns.py``).

* ``raise_concern``: the concern Task (``gp.task-requested``, delivered at once); a withdrawal or mood concern
  at or above the configured severity pauses the plan through the one pause path (``pause_taper``: on hold,
  re-planned more slowly, ``taper.paused`` and its review Task); a flare (or withdrawal) may ask to go back a
  step through the one step-back path (``step_back``); otherwise the answer says whether that is offered.
* ``answer_concern``: the practice answered (``$answer-concern``, or ``gp.task-completed`` for the concern or
  its escalation): both are completed.
* ``escalate_overdue``: a concern not answered by its time is escalated once: its ``priority`` one level up,
  ``businessStatus`` escalated, and an escalation Task to the practice (``gp.task-requested``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from services.medreview.domain.concerns import (
    ConcernKind,
    ConcernPolicy,
    escalated_priority,
    is_overdue,
    triage,
)
from services.medreview.fhir_mapping import task_identifier
from services.medreview.fhir_mapping.codes import GP_TASK_TYPE, concept, has_coding
from services.medreview.fhir_mapping.contact import (
    CONCERN,
    CONCERN_STATUS,
    ESCALATED,
    ESCALATION,
    answer_by_of,
    concern_task,
    escalation_task,
)
from services.medreview.repository import repository
from services.medreview.workflow.pause import pause_taper
from services.medreview.workflow.planning import plan_steps
from services.medreview.workflow.step_back import BACK, step_back
from shared.contracts import GP_TASK_REQUESTED_V1, CloudEvent
from shared.fhir import Conflict, PreconditionFailed, UnitOfWork, Unprocessable, format_instant

__all__ = [
    "OPEN",
    "answer_concern",
    "escalate_overdue",
    "is_concern_task",
    "on_concern_answered",
    "raise_concern",
    "step_back_offered",
]

OPEN = ("requested", "received", "accepted", "ready", "in-progress", "on-hold")
RUNNING = frozenset({"active", "on-hold"})
STEP_BACK_KINDS = frozenset({ConcernKind.PAIN_FLARE, ConcernKind.WITHDRAWAL})


def is_concern_task(task: dict[str, Any]) -> bool:
    code = task.get("code")
    return has_coding(code, GP_TASK_TYPE, CONCERN) or has_coding(code, GP_TASK_TYPE, ESCALATION)


def step_back_offered(s: UnitOfWork, careplan: dict[str, Any]) -> bool:
    """Whether going back to the previous step can be asked for now (as ``step_back`` would accept)."""
    if careplan.get("status") not in RUNNING:
        return False
    steps = plan_steps(s, careplan)
    if any(st.action == BACK and st.pending for st in steps):
        return False
    approved = [st for st in steps if st.approved and st.outcome]
    return bool(approved) and approved[-1].action != BACK


def raise_concern(
    s: UnitOfWork,
    careplan: dict[str, Any],
    *,
    kind: ConcernKind,
    severity: int,
    words: str,
    raised_by: str,
    policy: ConcernPolicy,
    on: date,
    go_back: bool = False,
) -> dict[str, Any]:
    """Record a concern about a running taper (module doc); the answer's Parameters."""
    status = careplan.get("status")
    if status not in RUNNING:
        raise Conflict(
            f"CarePlan/{careplan['id']} is {status}: a concern is raised while a reduction is under way "
            "(active or paused)"
        )
    if go_back and kind not in STEP_BACK_KINDS:
        raise Unprocessable("Going back a step is for a pain flare or withdrawal, not a mood concern")
    s = s.owned_by(s.practice_of(f"CarePlan/{careplan['id']}") or s.practice)
    rules = triage(kind, severity, s.now, policy)
    pauses = rules.pauses and status == "active"
    plan_ref = f"CarePlan/{careplan['id']}"
    task = s.create(
        concern_task(
            patient=str(careplan["subject"]["reference"]),
            careplan=plan_ref,
            practice=s.practice,
            raised=s.now,
            kind=kind,
            severity=severity,
            raised_by=raised_by,
            words=words,
            triage=replace(rules, pauses=pauses),
        )
    )
    why = f"a {kind.value} concern rated {severity}/10 was raised by the {raised_by}"
    plan = careplan
    if pauses:
        plan = pause_taper(s, careplan, why=why, on=on, evidence=f"Task/{task['id']}")
    stepped_back = False
    if go_back:
        plan = step_back(s, plan, why=f"{why}: {words}", on=on)
        stepped_back = True
    s.emit(GP_TASK_REQUESTED_V1, f"Task/{task['id']}", task)
    offered = rules.offers_step_back and not stepped_back and step_back_offered(s, plan)
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "task", "resource": task},
            {"name": "carePlan", "resource": plan},
            {"name": "priority", "valueCode": rules.priority},
            {"name": "answerBy", "valueDateTime": format_instant(rules.answer_by)},
            {"name": "paused", "valueBoolean": pauses},
            {"name": "steppedBack", "valueBoolean": stepped_back},
            {"name": "stepBackOffered", "valueBoolean": offered},
        ],
    }


def _concern_of(s: UnitOfWork, task: dict[str, Any]) -> dict[str, Any]:
    """The concern Task itself (an escalation's ``focus``)."""
    if has_coding(task.get("code"), GP_TASK_TYPE, ESCALATION):
        found = repository(s).find(s.conn, str(task["focus"]["reference"]), s.tenants)
        if found is not None:
            return found
    return task


def answer_concern(s: UnitOfWork, task: dict[str, Any], *, note: str) -> dict[str, Any]:
    """The practice answered a concern (or its escalation): the concern and its escalations completed; the
    concern Task as stored. A repeat answer changes nothing."""
    if not is_concern_task(task):
        raise Unprocessable(f"Task/{task['id']} is not a concern raised during a reduction")
    concern = _concern_of(s, task)
    if concern.get("status") not in OPEN:
        return concern
    s = s.owned_by(s.practice_of(f"Task/{concern['id']}") or s.practice)
    related = [concern, *repository(s).open_tasks(s.conn, f"Task/{concern['id']}", s.tenants)]
    stored = concern
    for each in related:
        if each.get("status") not in OPEN or not is_concern_task(each):
            continue
        done = s.update(
            {
                **each,
                "status": "completed",
                "lastModified": format_instant(s.now),
                "output": [*each.get("output", []), {"type": {"text": "answer"}, "valueString": note}],
            }
        )
        stored = done if each is concern else stored
    return stored


def on_concern_answered(s: UnitOfWork, event: CloudEvent) -> bool:
    """``gp.task-completed`` for a concern or its escalation: answered (True when it was one of ours)."""
    identifier = task_identifier(event.data)
    task = repository(s).task(s.conn, identifier, s.tenants) if identifier else None
    if task is None or not is_concern_task(task):
        return False
    reason = event.data.get("statusReason") or {}
    note = str(reason.get("text") or "answered in the GP system") if isinstance(reason, dict) else "answered"
    answer_concern(s, task, note=note)
    return True


def _escalated(task: dict[str, Any]) -> bool:
    return has_coding(task.get("businessStatus"), CONCERN_STATUS, ESCALATED)


def escalate_overdue(s: UnitOfWork, policy: ConcernPolicy) -> list[dict[str, Any]]:
    """Escalate every open concern of ``s.tenants`` past its answer time; the escalation Tasks created."""
    concerns = repository(s).search(
        s.conn, "Task", [("code", f"{GP_TASK_TYPE}|{CONCERN}"), ("status", ",".join(OPEN))], s.tenants
    )
    created = []
    for concern in concerns:
        if not is_overdue(answer_by_of(concern), False, _escalated(concern), s.now):
            continue
        owner = s.owned_by(s.practice_of(f"Task/{concern['id']}") or s.practice)
        priority = escalated_priority(str(concern.get("priority", "routine")))
        try:  # a pass on another replica that escalated it first has moved its version on
            owner.update(
                {
                    **concern,
                    "priority": priority,
                    "businessStatus": concept(CONCERN_STATUS, ESCALATED, "Escalated: not answered in time"),
                    "lastModified": format_instant(s.now),
                },
                if_match=int(concern["meta"]["versionId"]),
            )
        except PreconditionFailed:
            continue
        answer_by: datetime = s.now + timedelta(hours=policy.hours_for(priority))
        task = owner.create(
            escalation_task(
                concern, practice=owner.practice, now=s.now, priority=priority, answer_by=answer_by
            )
        )
        owner.emit(GP_TASK_REQUESTED_V1, f"Task/{task['id']}", task)
        created.append(task)
    return created
