"""The resources this service builds from events and operations: CareTeam, CarePlan, Task, Appointment.

Ids derived from what a resource is about (``stable_id``) make every builder idempotent: the same
enrolment always gives the same CareTeam and plan, the same month the same MDT review.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from services.careplan.domain.catalogue import GP_TASK_TYPE_SYSTEM, PAIN_MANAGEMENT_CATEGORY, role_coding
from shared.fhir import ODS_SYSTEM, format_instant

__all__ = [
    "care_team",
    "draft_plan",
    "gp_task",
    "mdt_appointment",
    "mdt_review",
    "plan_end",
    "stable_id",
]

NAMESPACE = uuid.UUID("5b0a3f3e-4f0e-4c55-9a57-7a0c2d6c1a11")
TASK_ID_SYSTEM = "https://pain-review.example.org/fhir/Id/gp-task"
MAX_YEARS = 2


def stable_id(*parts: str) -> str:
    """A UUID that depends only on ``parts`` (practice, kind, what it is about)."""
    return str(uuid.uuid5(NAMESPACE, "|".join(parts)))


def _practice_org(practice: str) -> dict[str, Any]:
    return {"type": "Organization", "identifier": {"system": ODS_SYSTEM, "value": practice}}


def plan_end(start: str, end: str | None) -> str:
    """The plan's end: the episode's, never more than 2 years after the start (dates, YYYY-MM-DD)."""
    first = date.fromisoformat(start[:10])
    try:
        limit = first.replace(year=first.year + MAX_YEARS)
    except ValueError:  # 29 February
        limit = first.replace(year=first.year + MAX_YEARS, day=28)
    if end:
        return min(date.fromisoformat(end[:10]), limit).isoformat()
    return limit.isoformat()


def care_team(
    *,
    team_id: str,
    practice: str,
    patient: str,
    episode: Mapping[str, Any],
    referral: Mapping[str, Any] | None,
    specialists: Mapping[str, str],
    today: str,
) -> dict[str, Any]:
    """The patient's care team: project worker, GP and, where assigned, the specialists.

    The project worker is the episode's care manager when referral named one (else a role to fill);
    the GP is the referral's requester; ``specialists`` maps a role (pain-consultant,
    addiction-psychiatrist) to the name of the specialist assigned to this practice.
    """
    participants: list[dict[str, Any]] = []
    worker: dict[str, Any] = {"role": [role_coding("project-worker")]}
    if isinstance(episode.get("careManager"), dict):
        worker["member"] = episode["careManager"]
    participants.append(worker)
    gp: dict[str, Any] = {"role": [role_coding("general-practitioner")]}
    requester = (referral or {}).get("requester")
    if isinstance(requester, dict) and str(requester.get("reference", "")).startswith(
        ("Practitioner/", "PractitionerRole/")
    ):
        gp["member"] = requester
        if str(requester["reference"]).startswith("Practitioner/"):
            gp["onBehalfOf"] = _practice_org(practice)
    participants.append(gp)
    for role in ("pain-consultant", "addiction-psychiatrist"):
        if specialists.get(role):
            participants.append({"role": [role_coding(role)], "member": {"display": specialists[role]}})
    start = str((episode.get("period") or {}).get("start") or today)
    return _team(team_id, patient, start, participants, practice)


def _team(
    team_id: str, patient: str, start: str, participants: list[dict[str, Any]], practice: str
) -> dict[str, Any]:
    return {
        "resourceType": "CareTeam",
        "id": team_id,
        "status": "active",
        "name": "Pain and opioid review care team",
        "subject": {"reference": patient},
        "period": {"start": start[:10]},
        "participant": participants,
        "managingOrganization": [_practice_org(practice)],
    }


def draft_plan(
    *,
    plan_id: str,
    team_id: str,
    patient: str,
    episode: Mapping[str, Any],
    conditions: Sequence[Mapping[str, Any]],
    created: str,
) -> dict[str, Any]:
    """A draft pain management plan for the enrolment: to be co-produced with the patient."""
    period = episode.get("period") or {}
    start = str(period.get("start") or created)[:10]
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": plan_id,
        "status": "draft",
        "intent": "plan",
        "category": [PAIN_MANAGEMENT_CATEGORY],
        "title": "Pain management plan",
        "description": "Co-produced with the patient: within-session components, community services "
        "and, where agreed, a gradual opioid reduction. Open-ended in pace, up to 2 years.",
        "subject": {"reference": patient},
        "period": {"start": start, "end": plan_end(start, period.get("end"))},
        "created": created,
        "careTeam": [{"reference": f"CareTeam/{team_id}"}],
    }
    if episode.get("id"):
        plan["supportingInfo"] = [{"reference": f"EpisodeOfCare/{episode['id']}"}]
    addresses = [{"reference": f"Condition/{c['id']}"} for c in conditions if c.get("id")]
    if addresses:
        plan["addresses"] = addresses
    return plan


def gp_task(
    *,
    task_id: str,
    kind: str,
    practice: str,
    patient: str,
    focus: str,
    description: str,
    summary: str,
    authored: str,
    attach: bool,
) -> dict[str, Any]:
    """A Task for the GP practice (docs/EVENTS.md, gp.task-requested): a plan or session summary."""
    display = {"plan-summary": "Pain management plan summary", "session-summary": "Session summary"}[kind]
    inputs: list[dict[str, Any]] = [
        {"type": {"text": "summary"}, "valueString": summary},
    ]
    if attach:
        inputs.append(
            {
                "type": {"text": "document"},
                "valueAttachment": {
                    "contentType": "text/plain",
                    "data": base64.b64encode(summary.encode()).decode(),
                    "title": f"{display}.txt",
                    "creation": authored,
                },
            }
        )
    return {
        "resourceType": "Task",
        "id": task_id,
        "identifier": [{"system": TASK_ID_SYSTEM, "value": task_id}],
        "status": "requested",
        "intent": "order",
        "priority": "routine",
        "code": {"coding": [{"system": GP_TASK_TYPE_SYSTEM, "code": kind, "display": display}]},
        "description": description,
        "for": {"reference": patient},
        "focus": {"reference": focus},
        "authoredOn": authored,
        "owner": _practice_org(practice),
        "input": inputs,
    }


def mdt_review(
    *,
    appointment_id: str,
    patient: str,
    plan_id: str,
    team: Mapping[str, Any] | None,
    start: datetime,
    minutes: int,
) -> dict[str, Any]:
    """A proposed monthly multidisciplinary review of one patient for the care team.

    Team members with a reference or a name are asked (``needs-action``); the patient is named for
    information: the review is about them, not with them.
    """
    participants: list[dict[str, Any]] = []
    for member in (team or {}).get("participant") or []:
        who = member.get("member")
        if isinstance(who, dict) and (who.get("reference") or who.get("display")):
            participants.append(
                {
                    "type": member.get("role", [])[:1],
                    "actor": who,
                    "required": "required",
                    "status": "needs-action",
                }
            )
    participants.append(
        {"actor": {"reference": patient}, "required": "information-only", "status": "needs-action"}
    )
    return mdt_appointment(appointment_id, start, minutes, f"CarePlan/{plan_id}", participants)


def mdt_appointment(
    appointment_id: str, start: datetime, minutes: int, about: str, participants: list[dict[str, Any]]
) -> dict[str, Any]:
    """A proposed multidisciplinary review of ``about`` (a plan, or a meeting's agenda List)."""
    return {
        "resourceType": "Appointment",
        "id": appointment_id,
        "status": "proposed",
        "serviceCategory": [{"text": "Pain and opioid review"}],
        "appointmentType": {"text": "Multidisciplinary review"},
        "description": f"Monthly multidisciplinary review, {start.strftime('%B %Y')}",
        "start": format_instant(start),
        "end": format_instant(start + timedelta(minutes=minutes)),
        "minutesDuration": minutes,
        "supportingInformation": [{"reference": about}],
        "participant": participants,
    }
