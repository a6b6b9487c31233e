"""Follow-up after discharge (the rules: ``services/medreview/domain/follow_up.py``).

* ``schedule_follow_ups`` (``patient.discharged``): the OME at discharge is reviewed from the stored list (the
  one medication review path, ``review_patient``; none when the patient has no list here), and one dated
  ``follow-up-review`` Task per configured interval goes to the practice on its date (``gp.task-requested``
  with ``executionPeriod.start``, as an approval Task's lead days), with a
  ``gp.record-read-requested`` for the same day: gpconnect reads the GP record then, not before (its dated
  delivery outbox, by its clock).
* ``on_follow_up_sync`` (``medication.list-synced``, after the list is stored): each open follow-up Task of
  the patient whose date has come (by the service's clock) is done: the OME reviewed again from the list
  just synced, and an Observation records whether the dose held; the Task ``completed``, its ``output``
  both Observations, announced with ``follow-up.recorded`` (the completed Task). A sync before the date
  changes nothing.

PROMs (PEG, PHQ-9, GAD-7) are careplan's (QuestionnaireResponse): the follow-up Task asks the practice to
have them completed, and careplan, on ``follow-up.recorded``, records each measure's score as of the
follow-up's day with its change from discharge, or that it is not computable and why
(``services/careplan/follow_up_proms.py``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.medreview.domain.follow_up import dose_held, follow_up_dates
from services.medreview.domain.medication_list import resources_from_bundle
from services.medreview.fhir_mapping.codes import GP_TASK_TYPE
from services.medreview.fhir_mapping.contact import (
    FOLLOW_UP,
    dose_held_observation,
    follow_up_task,
    ome_figure,
)
from services.medreview.repository import repository
from services.medreview.workflow.concern import OPEN
from services.medreview.workflow.review import review_patient
from shared.contracts import (
    FOLLOW_UP_RECORDED_V1,
    GP_RECORD_READ_REQUESTED_V1,
    GP_TASK_REQUESTED_V1,
    CloudEvent,
)
from shared.fhir import FhirError, UnitOfWork, format_instant
from shared.terminology import DEFAULT_OME_FACTOR_TABLE

__all__ = ["on_follow_up_sync", "schedule_follow_ups"]


def _review(s: UnitOfWork, patient: str) -> dict[str, Any] | None:
    """The stored total OME Observation of a review of the patient's list now; None without a list."""
    try:
        answer = review_patient(s, patient, DEFAULT_OME_FACTOR_TABLE)
    except FhirError:
        return None
    ref = next(
        (str(p["valueReference"]["reference"]) for p in answer["parameter"] if p["name"] == "observation"),
        None,
    )
    return repository(s).find(s.conn, ref, s.tenants) if ref else None


def schedule_follow_ups(s: UnitOfWork, event: CloudEvent, months: tuple[int, ...]) -> list[dict[str, Any]]:
    """``patient.discharged``: the follow-up Tasks, one per interval (module doc)."""
    episode = event.data
    patient = str((episode.get("patient") or {}).get("reference", ""))
    if not patient.startswith("Patient/"):
        return []
    end = str((episode.get("period") or {}).get("end") or "")[:10]
    discharged = date.fromisoformat(end) if end else event.time.date()
    at_discharge = _review(s, patient)
    tasks = []
    for interval, due in follow_up_dates(discharged, months):
        task = s.create(
            follow_up_task(
                patient=patient,
                practice=s.practice,
                now=s.now,
                months=interval,
                due=due,
                discharged=discharged,
                at_discharge=at_discharge,
            )
        )
        s.emit(GP_TASK_REQUESTED_V1, f"Task/{task['id']}", task)
        s.emit(GP_RECORD_READ_REQUESTED_V1, f"Task/{task['id']}", task)
        tasks.append(task)
    return tasks


def _due(task: dict[str, Any]) -> date | None:
    start = str(((task.get("restriction") or {}).get("period") or {}).get("start") or "")[:10]
    return date.fromisoformat(start) if start else None


def on_follow_up_sync(s: UnitOfWork, event: CloudEvent) -> list[dict[str, Any]]:
    """``medication.list-synced``: record each follow-up that has come due (module doc); the Observations."""
    patient = next(
        (
            f"Patient/{r['id']}"
            for r in resources_from_bundle(event.data)
            if r.get("resourceType") == "Patient"
        ),
        None,
    ) or next(
        (
            str(r["subject"]["reference"])
            for r in resources_from_bundle(event.data)
            if str((r.get("subject") or {}).get("reference", "")).startswith("Patient/")
        ),
        None,
    )
    if patient is None:
        return []
    today = s.now.date()
    due = [
        t
        for t in repository(s).search(
            s.conn,
            "Task",
            [("patient", patient), ("code", f"{GP_TASK_TYPE}|{FOLLOW_UP}"), ("status", ",".join(OPEN))],
            s.tenants,
        )
        if (_due(t) or today) <= today
    ]
    if not due:
        return []
    follow_up = _review(s, patient)
    recorded = []
    for task in sorted(due, key=lambda t: _due(t) or today):
        focus = str((task.get("focus") or {}).get("reference", ""))
        at_discharge = (
            repository(s).find(s.conn, focus, s.tenants) if focus.startswith("Observation/") else None
        )
        owner = s.owned_by(s.practice_of(f"Task/{task['id']}") or s.practice)
        held = dose_held(ome_figure(at_discharge), ome_figure(follow_up))
        observation = owner.create(
            dose_held_observation(
                patient=patient,
                effective=s.now,
                held=held,
                at_discharge=at_discharge,
                at_follow_up=follow_up,
                task=f"Task/{task['id']}",
            )
        )
        outputs = [
            {
                "type": {"text": "dose-held"},
                "valueReference": {"reference": f"Observation/{observation['id']}"},
            }
        ]
        if follow_up is not None:
            outputs.append(
                {
                    "type": {"text": "ome-at-follow-up"},
                    "valueReference": {"reference": f"Observation/{follow_up['id']}"},
                }
            )
        done = owner.update(
            {**task, "status": "completed", "lastModified": format_instant(s.now), "output": outputs}
        )
        owner.emit(FOLLOW_UP_RECORDED_V1, f"Task/{task['id']}", done)
        recorded.append(observation)
    return recorded
