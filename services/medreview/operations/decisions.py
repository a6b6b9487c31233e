"""The GP's decision on a taper step.

* ``POST /fhir/Task/{id}/$decide``: ``decision`` (approved | declined), ``reason`` -> the closed Task (as
  ``gp.task-completed`` does). Only a prescriber or the GP system of the patient's own practice decides.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from services.medreview.fhir_mapping import Decision, Outcome
from services.medreview.repository import repository
from services.medreview.workflow import APPROVAL_LEAD_DAYS, decide_step
from shared.fhir import BadRequest, FhirKernel, Forbidden, OperationCall, Parameters, UnitOfWork

__all__ = ["PRESCRIBING_ROLES", "register"]

PRESCRIBING_ROLES = frozenset({"gp-system", "prescriber"})
"""Who may approve or decline a taper step: the patient's practice's GP system or a prescriber there.
Project workers and specialists propose; they never decide (a refusal is audited with who tried)."""
_DECISIONS = {"approved": Decision.APPROVED, "approve": Decision.APPROVED}
_DECISIONS |= {"declined": Decision.DECLINED, "decline": Decision.DECLINED, "rejected": Decision.DECLINED}


def decide(call: OperationCall, uow: UnitOfWork, *, lead_days: int = APPROVAL_LEAD_DAYS) -> dict[str, Any]:
    params = Parameters(call.body)
    word = (params.text("decision") or "").lower()
    if word not in _DECISIONS:
        raise BadRequest("Parameter 'decision' must be 'approved' or 'declined'")
    outcome = Outcome(_DECISIONS[word], params.text("reason"))
    if outcome.decision is Decision.DECLINED and not outcome.reason:
        raise BadRequest("A decline needs a 'reason' (it is recorded on the plan)")
    principal = call.ctx.principal
    if principal.role not in PRESCRIBING_ROLES:
        raise Forbidden(
            f"A taper step is approved or declined by a prescriber at the patient's practice; "
            f"the role {principal.role} may propose, not decide"
        )
    reference = f"Task/{call.resource_id}"
    task = repository(uow).read(uow.conn, reference, uow.tenants)
    uow.patient = str((task.get("for") or {}).get("reference") or "") or None
    if uow.practice_of(reference) != principal.practice:
        raise Forbidden("Only a prescriber at the patient's own practice may decide this step")
    return decide_step(uow, task, outcome, lead_days=lead_days)


def register(kernel: FhirKernel, *, lead_days: int = APPROVAL_LEAD_DAYS) -> None:
    kernel.operation(
        "decide",
        partial(decide, lead_days=lead_days),
        level="instance",
        resource_type="Task",
        scope=("Task", "u"),
        documentation="The GP's approval or decline of a taper step (as gp.task-completed does)",
    )
