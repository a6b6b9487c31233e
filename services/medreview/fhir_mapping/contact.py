"""R4 resources for contact during a reduction and follow-up after discharge (pure, plain dicts).

* a concern: a Task for the practice (``gp-task-type#taper-concern``), ``priority`` from its kind,
  ``restriction.period.end`` the time it is to be answered by, ``input`` its kind, severity and who raised it;
* an escalation: a Task (``#concern-escalation``) whose ``focus`` is the concern Task;
* a follow-up review: a dated Task (``#follow-up-review``) for the practice, with the OME at discharge;
* whether the dose held: an Observation (``medreview-observation#dose-held-after-discharge``) coded
  ``dose-held`` (held | reduced | stopped | increased | not-computable), the two totals as components
  (a figure that is missing or only a lower bound is given with a ``dataAbsentReason``, never a number).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.medreview.domain.concerns import ConcernKind, Triage
from services.medreview.domain.follow_up import DoseHeld, OmeFigure
from services.medreview.fhir_mapping import daily_ome, decimal_of, gp_task, instant
from services.medreview.fhir_mapping.codes import BASE, OBSERVATION_CODES, coding, concept

__all__ = [
    "CONCERN",
    "CONCERN_KIND_SYSTEM",
    "CONCERN_STATUS",
    "DOSE_HELD",
    "DOSE_HELD_SYSTEM",
    "ESCALATED",
    "ESCALATION",
    "FOLLOW_UP",
    "answer_by_of",
    "concern_task",
    "dose_held_observation",
    "escalation_task",
    "follow_up_task",
    "ome_figure",
]

CONCERN = "taper-concern"
ESCALATION = "concern-escalation"
FOLLOW_UP = "follow-up-review"
CONCERN_KIND_SYSTEM = f"{BASE}/CodeSystem/taper-concern-kind"
CONCERN_STATUS = f"{BASE}/CodeSystem/taper-concern-status"
ESCALATED = "escalated"
DOSE_HELD = "dose-held-after-discharge"
DOSE_HELD_SYSTEM = f"{BASE}/CodeSystem/dose-held"
_KIND_DISPLAY = {
    ConcernKind.WITHDRAWAL: "Withdrawal symptoms",
    ConcernKind.PAIN_FLARE: "Pain flare",
    ConcernKind.MOOD: "Low mood",
}
_HELD_DISPLAY = {
    DoseHeld.HELD: "Dose held",
    DoseHeld.REDUCED: "Dose reduced further",
    DoseHeld.STOPPED: "Opioid stopped",
    DoseHeld.INCREASED: "Dose increased",
    DoseHeld.NOT_COMPUTABLE: "Not computable",
}
_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def _task(code: str, display: str, **fields: Any) -> dict[str, Any]:
    task = gp_task(code, **fields)
    task["code"] = concept(f"{BASE}/CodeSystem/gp-task-type", code, display)
    return task


def concern_task(
    *,
    patient: str,
    careplan: str,
    practice: str,
    raised: datetime,
    kind: ConcernKind,
    severity: int,
    raised_by: str,
    words: str,
    triage: Triage,
) -> dict[str, Any]:
    """The concern as a Task for the practice (module doc)."""
    label = _KIND_DISPLAY[kind].lower()
    then = "The plan has been paused. " if triage.pauses else ""
    task = _task(
        CONCERN,
        "Concern during an opioid dose reduction",
        patient=patient,
        focus=careplan,
        practice=practice,
        authored=raised,
        description=f"Concern during an opioid dose reduction: {label}, rated {severity}/10",
        summary=(
            f"Raised by the {raised_by} on {instant(raised)}: {label}, rated {severity}/10. In their words: "
            f"{words}. {then}Please contact the patient by {instant(triage.answer_by)}."
        ),
        based_on=careplan,
    )
    task["priority"] = triage.priority
    task["restriction"] = {"period": {"end": instant(triage.answer_by)}}
    task["input"] += [
        {"type": {"text": "kind"}, "valueCodeableConcept": concept(CONCERN_KIND_SYSTEM, kind.value, label)},
        {"type": {"text": "severity"}, "valueInteger": severity},
        {"type": {"text": "raised-by"}, "valueString": raised_by},
        {"type": {"text": "plan-paused"}, "valueBoolean": triage.pauses},
    ]
    return task


def escalation_task(
    concern: Mapping[str, Any], *, practice: str, now: datetime, priority: str, answer_by: datetime
) -> dict[str, Any]:
    """The escalation of a concern not answered by its time: ``focus`` the concern Task."""
    was = str(((concern.get("restriction") or {}).get("period") or {}).get("end", ""))
    task = _task(
        ESCALATION,
        "A concern during a dose reduction was not answered in time",
        patient=str(concern["for"]["reference"]),
        focus=f"Task/{concern['id']}",
        practice=practice,
        authored=now,
        description="Escalated: a concern during an opioid dose reduction was not answered in time",
        summary=(
            f"{concern.get('description', 'A concern')} was to be answered by {was} and has not been. "
            f"Please contact the patient by {instant(answer_by)}."
        ),
        based_on=next((str(b["reference"]) for b in concern.get("basedOn") or []), None),
    )
    task["priority"] = priority
    task["restriction"] = {"period": {"end": instant(answer_by)}}
    return task


def answer_by_of(task: Mapping[str, Any]) -> datetime | None:
    """A concern or escalation Task's answer time (``restriction.period.end``)."""
    text = ((task.get("restriction") or {}).get("period") or {}).get("end")
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def ome_figure(observation: Mapping[str, Any] | None) -> OmeFigure | None:
    """A total daily OME Observation's figure; a lower bound (``comparator``) is not complete."""
    quantity = (observation or {}).get("valueQuantity") or {}
    if quantity.get("value") is None:
        return None
    return OmeFigure(decimal_of(quantity["value"]), complete=quantity.get("comparator") is None)


def follow_up_task(
    *,
    patient: str,
    practice: str,
    now: datetime,
    months: int,
    due: date,
    discharged: date,
    at_discharge: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A follow-up review ``months`` after discharge, reaching the practice on ``due``."""
    figure = ome_figure(at_discharge)
    said = (
        "not known"
        if figure is None
        else f"{'at least ' if not figure.complete else ''}{figure.mg_per_day.normalize():f} mg OME a day"
    )
    focus = f"Observation/{at_discharge['id']}" if at_discharge else patient
    task = _task(
        FOLLOW_UP,
        "Follow-up review after discharge",
        patient=patient,
        focus=focus,
        practice=practice,
        authored=now,
        description=f"Follow-up review {months} months after discharge from the pain review service",
        summary=(
            f"Discharged on {discharged.isoformat()} at {said}. The GP record is read again on "
            f"{due.isoformat()} and the opioid dose compared with the dose at discharge. Please also ask the "
            "patient to complete the PEG, PHQ-9 and GAD-7 questionnaires."
        ),
        due=due,
        send_on=due,
    )
    task["input"] += [
        {"type": {"text": "months-after-discharge"}, "valueInteger": months},
        {"type": {"text": "discharged"}, "valueDate": discharged.isoformat()},
    ]
    return task


def _component(name: str, observation: Mapping[str, Any] | None) -> dict[str, Any]:
    figure = ome_figure(observation)
    part: dict[str, Any] = {"code": {"text": name}}
    if figure is None:
        part["dataAbsentReason"] = {"coding": [coding(_ABSENT, "unknown", "Unknown")]}
    elif not figure.complete:
        part["dataAbsentReason"] = {"coding": [coding(_ABSENT, "error", "Error")]}
        part["dataAbsentReason"]["text"] = (
            f"Not computable: at least {figure.mg_per_day.normalize():f} mg/d (a dose could not be read)"
        )
    else:
        part["valueQuantity"] = daily_ome(Decimal(figure.mg_per_day))
    return part


def dose_held_observation(
    *,
    patient: str,
    effective: datetime,
    held: DoseHeld,
    at_discharge: Mapping[str, Any] | None,
    at_follow_up: Mapping[str, Any] | None,
    task: str,
) -> dict[str, Any]:
    """Whether the dose held since discharge (module doc); ``derivedFrom`` the two total OME Observations."""
    derived = [f"Observation/{o['id']}" for o in (at_discharge, at_follow_up) if o]
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {"coding": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "therapy")]}
        ],
        "code": concept(OBSERVATION_CODES, DOSE_HELD, "Opioid dose held after discharge"),
        "subject": {"reference": patient},
        "effectiveDateTime": instant(effective),
        "issued": instant(effective),
        "valueCodeableConcept": concept(DOSE_HELD_SYSTEM, held.value, _HELD_DISPLAY[held]),
        "component": [
            _component("ome-at-discharge", at_discharge),
            _component("ome-at-follow-up", at_follow_up),
        ],
        "note": [{"text": f"Follow-up review: {task}"}],
    }
    if derived:
        observation["derivedFrom"] = [{"reference": r} for r in derived]
    return observation
