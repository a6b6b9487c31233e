"""The safety gates at proposal (``gates.py``) and the MDT or specialist review that opens them.

A review is recorded as a completed Task (code ``medreview-review#mdt-review``) for the patient: who recorded
it (its Provenance and the operation's AuditEvent), the day, the outcome (``taper-agreed`` or
``taper-not-advised``), the clinicians' words and, when the care team met at one, careplan's Appointment (from
``Appointment/$propose-mdt-review``) as its ``focus``. A plan is proposed past a gate only when the patient's
latest review agreed a taper; the plan's note names the gates and the review.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.medreview.domain.gates import Gate, taper_gates
from services.medreview.fhir_mapping.codes import (
    MDT_OUTCOMES,
    MDT_REVIEW,
    REVIEW_CODES,
    concept,
    has_coding,
)
from services.medreview.repository import repository
from services.medreview.workflow.review import current_regimen, reviewed
from shared.fhir import ODS_SYSTEM, UnitOfWork, Unprocessable, format_instant

__all__ = ["gate_note", "latest_mdt_review", "record_mdt_review"]


def record_mdt_review(
    s: UnitOfWork,
    patient: str,
    *,
    outcome: str,
    summary: str,
    on: date,
    appointment: str | None,
    factor_table: str,
) -> dict[str, Any]:
    """Store the review (a completed Task) with the gates the patient's medicines meet now."""
    if outcome not in MDT_OUTCOMES:
        raise Unprocessable(f"outcome must be one of {', '.join(MDT_OUTCOMES)}")
    regimen = current_regimen(s, patient)  # 404 for a patient not known here
    gates = taper_gates(reviewed(regimen.resources, regimen.medications, factor_table).result)
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": "completed",
        "intent": "order",
        "code": concept(REVIEW_CODES, MDT_REVIEW, "MDT or specialist review before a taper"),
        "description": "MDT or specialist review before an opioid taper",
        "for": {"reference": patient},
        "focus": {"reference": appointment or patient},
        "authoredOn": format_instant(s.now),
        "lastModified": format_instant(s.now),
        "executionPeriod": {"start": format_instant(on), "end": format_instant(on)},
        "owner": {"identifier": {"system": ODS_SYSTEM, "value": s.practice}},
        "businessStatus": {
            "coding": [{"system": REVIEW_CODES, "code": outcome}],
            "text": MDT_OUTCOMES[outcome],
        },
        "output": [{"type": {"text": "summary"}, "valueString": summary}],
    }
    if gates:  # R4 JSON: no empty array; a review with no gate met has no gate inputs
        task["input"] = [{"type": {"text": "gate"}, "valueString": g.text} for g in gates]
    return s.create(task)


def latest_mdt_review(s: UnitOfWork, patient: str) -> dict[str, Any] | None:
    """The patient's most recent recorded MDT or specialist review, if any."""
    found = repository(s).search(s.conn, "Task", [("patient", patient), ("status", "completed")], s.tenants)
    reviews = [t for t in found if has_coding(t.get("code"), REVIEW_CODES, MDT_REVIEW)]
    return max(
        reviews,
        key=lambda t: (str(t.get("authoredOn", "")), str((t.get("meta") or {}).get("lastUpdated", ""))),
        default=None,
    )


def _outcome(review: dict[str, Any]) -> str:
    return next((str(c.get("code")) for c in (review.get("businessStatus") or {}).get("coding", [])), "")


def gate_note(s: UnitOfWork, patient: str, factor_table: str) -> str | None:
    """Check the gates before a plan is proposed: ``None`` when none applies, the plan's note when a review
    agreed a taper; 422 naming the gates when no review is recorded or the latest advised against one."""
    regimen = current_regimen(s, patient)
    gates: list[Gate] = taper_gates(reviewed(regimen.resources, regimen.medications, factor_table).result)
    if not gates:
        return None
    named = "; ".join(g.text for g in gates)
    review = latest_mdt_review(s, patient)
    if review is None:
        raise Unprocessable(
            f"No taper is offered without an MDT or specialist review for: {named}. Record the review with "
            f"POST {patient}/$record-mdt-review (careplan's Appointment/$propose-mdt-review schedules one)."
        )
    day = str((review.get("executionPeriod") or {}).get("start", ""))[:10]
    words = next((str(o["valueString"]) for o in review.get("output", []) if o.get("valueString")), "")
    if _outcome(review) != "taper-agreed":
        raise Unprocessable(f"The MDT or specialist review of {day} advised against a taper now: {words}")
    return (
        f"Needs an MDT or specialist review ({named}): Task/{review['id']} of {day} agreed a taper: {words}"
    )
