"""Go back to the previous step: for a pain flare or withdrawal, the patient returns to the dose before the
last approved step, never above the dose the plan started from.

The plan is put on hold (the steps not yet approved are withdrawn and their Tasks cancelled) and the return is
proposed as a step of its own (``taper-step`` action ``back``): a proposed MedicationRequest with the previous
prescription's medicine and dosage, dated the day it is asked for, and a ``review`` Task asking the GP to
review the patient and approve it. Approved, it is ordered as any step is (replacing the current order,
written to the GP record on its date); the plan stays on hold until it is resumed, re-planned from that dose.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.medreview.fhir_mapping import REVIEW, gp_task, policy_of
from services.medreview.fhir_mapping.codes import SOURCE_MEDREVIEW, STEP_ID_SYSTEM, source_tag
from services.medreview.fhir_mapping.quantities import daily_ome
from services.medreview.fhir_mapping.taper_plan import STEP_URL, order_marks, step_group
from services.medreview.repository import repository
from services.medreview.workflow.planning import (
    announce,
    cancel_step,
    plan_steps,
    replaced_by,
    set_note,
    store_plan,
)
from shared.contracts import GP_TASK_REQUESTED_V1, TAPER_PAUSED_V1
from shared.fhir import Conflict, UnitOfWork, Unprocessable, format_instant

__all__ = ["BACK", "step_back"]

BACK = "back"


def _sub(url: str, **value: Any) -> dict[str, Any]:
    return {"url": url, **value}


def step_back(s: UnitOfWork, careplan: dict[str, Any], *, why: str, on: date) -> dict[str, Any]:
    """Propose going back to the dose before the last approved step (module doc); the plan, on hold."""
    if careplan.get("status") not in ("active", "on-hold"):
        raise Conflict(
            f"CarePlan/{careplan['id']} is {careplan.get('status')}: no approved step to go back from"
        )
    s = s.owned_by(s.practice_of(f"CarePlan/{careplan['id']}") or s.practice)
    steps = plan_steps(s, careplan)
    if any(st.action == BACK and st.pending for st in steps):
        raise Conflict(f"CarePlan/{careplan['id']} already asks the GP to go back a step")
    approved = [st for st in steps if st.approved and st.outcome]
    if not approved:
        raise Conflict(f"CarePlan/{careplan['id']} has no approved step to go back from")
    last = approved[-1]
    if last.action == BACK:
        raise Conflict(f"CarePlan/{careplan['id']} has just gone back a step: review and resume it first")
    found = [repository(s).find(s.conn, ref, s.tenants) for ref in replaced_by(steps, last)]
    previous_all = [p for p in found if p is not None]
    if not previous_all or len(previous_all) < len(found):
        raise Unprocessable(
            "The prescription before the last step is no longer on the record: review instead"
        )
    total = last.total + last.reduction
    _, baseline = policy_of(careplan)
    if total > baseline:
        raise Unprocessable(
            f"Going back would be {total.normalize():f} mg OME a day, above the {baseline.normalize():f} "
            "the plan started from: review instead"
        )
    for step in steps:
        if step.pending:
            cancel_step(s, careplan, step, f"Withdrawn: going back a step ({why})")
    concepts = []
    for previous in previous_all:  # one per strength when the step before was given in several
        concept = previous.get("medicationCodeableConcept")
        if not concept:
            target = str((previous.get("medicationReference") or {}).get("reference", ""))
            concept = (repository(s).medications(s.conn, [previous], s.tenants).get(target) or {}).get("code")
        if not concept:
            raise Unprocessable("The previous prescription names no medicine this service can re-propose")
        concepts.append(concept)
    number = max(st.number for st in steps) + 1
    plan_ref = f"CarePlan/{careplan['id']}"
    description = (
        f"Step {number} (back) from {on.isoformat()}: back to the dose before step {last.number}; total "
        f"{total.normalize():f} mg OME a day ({why})"
    )
    group = step_group(number, plan_ref)

    def returning(previous: dict[str, Any], concept: dict[str, Any]) -> dict[str, Any]:
        dosages = list(previous.get("dosageInstruction") or previous.get("dosage") or [])
        return {
            "resourceType": "MedicationRequest",
            "meta": {"tag": [source_tag(SOURCE_MEDREVIEW)]},
            "groupIdentifier": group,
            "status": "draft",
            "intent": "proposal",
            "medicationCodeableConcept": concept,
            "subject": careplan["subject"],
            "authoredOn": format_instant(s.now),
            "basedOn": [{"reference": plan_ref}],
            "note": [{"text": description}],
            "dosageInstruction": dosages or [{"text": "as before step " + str(last.number)}],
            "dispenseRequest": {"validityPeriod": {"start": format_instant(on)}},
        }

    orders = [
        f"MedicationRequest/{s.create(returning(p, c) | order_marks(number, k, plan_ref))['id']}"
        for k, (p, c) in enumerate(zip(previous_all[1:], concepts[1:], strict=True), start=2)
    ]
    proposal = s.create(
        returning(previous_all[0], concepts[0])
        | {
            "identifier": [{"system": STEP_ID_SYSTEM, "value": f"{careplan['id']}-step-{number}"}],
            "extension": [
                {
                    "url": STEP_URL,
                    "extension": [
                        _sub("number", valueInteger=number),
                        _sub("action", valueCode=BACK),
                        _sub("regimenItem", valueReference={"reference": last.item}),
                        _sub("reduction", valueQuantity=daily_ome(-last.reduction)),
                        _sub("totalOme", valueQuantity=daily_ome(total)),
                        *(_sub("order", valueReference={"reference": ref}) for ref in orders),
                    ],
                }
            ],
        }
    )
    reference = f"MedicationRequest/{proposal['id']}"
    careplan["activity"] = [
        *careplan.get("activity", []),
        {"reference": {"reference": reference, "display": description}},
    ]
    careplan["status"] = "on-hold"
    set_note(s, careplan, f"Going back a step on {on.isoformat()}: {why}. The GP is asked to review.")
    stored = store_plan(s, careplan)
    announce(s, TAPER_PAUSED_V1, stored)
    task = s.create(
        gp_task(
            REVIEW,
            patient=str(careplan["subject"]["reference"]),
            focus=reference,
            practice=s.practice,
            authored=s.now,
            description="Review: go back to the previous step of an opioid dose reduction",
            summary=(
                f"{why}. Proposed: back to the dose before step {last.number} from {on.isoformat()} "
                f"({total.normalize():f} mg OME a day, not above the {baseline.normalize():f} the plan "
                "started from). Please review the patient; approve to have the prescription re-issued, or "
                "decline."
            ),
            based_on=plan_ref,
            due=on,
            send_on=on,
        )
    )
    s.emit(GP_TASK_REQUESTED_V1, f"Task/{task['id']}", task)
    return stored
