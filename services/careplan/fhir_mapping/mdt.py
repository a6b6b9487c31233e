"""The monthly MDT as FHIR: the agenda List and its entries, the meeting Appointment, an outcome's flag and
its note in the plan. Pure builders of R4 dicts (``operations/mdt.py`` stores them)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from services.careplan.domain.catalogue import FHIR_BASE
from services.careplan.domain.mdt import MDT_OUTCOME_SYSTEM, MDT_REASON_SYSTEM, OUTCOMES, AgendaItem
from services.careplan.fhir_mapping.plans import mdt_appointment

__all__ = [
    "AGENDA_CODE",
    "PLAN_EXTENSION",
    "REASON_EXTENSION",
    "agenda_list",
    "deferred_patients",
    "is_agenda",
    "meeting",
    "merge_entries",
    "merge_members",
    "outcome_flag",
    "plan_of_entry",
    "plan_with_outcome",
]

REASON_EXTENSION = f"{FHIR_BASE}/StructureDefinition/mdt-reason"
PLAN_EXTENSION = f"{FHIR_BASE}/StructureDefinition/mdt-plan"
AGENDA_SYSTEM = f"{FHIR_BASE}/CodeSystem/careplan-list"
AGENDA_CODE = {
    "coding": [
        {"system": AGENDA_SYSTEM, "code": "mdt-agenda", "display": "Monthly multidisciplinary review agenda"}
    ],
    "text": "Monthly multidisciplinary review agenda",
}


def _entry(item: AgendaItem, added: str) -> dict[str, Any]:
    reasons = [
        {
            "url": REASON_EXTENSION,
            "valueCodeableConcept": {
                "coding": [{"system": MDT_REASON_SYSTEM, "code": r.code}],
                "text": r.text,
            },
        }
        for r in item.reasons
    ]
    return {
        "extension": [
            {"url": PLAN_EXTENSION, "valueReference": {"reference": f"CarePlan/{item.plan_id}"}},
            *reasons,
        ],
        "date": added,
        "item": {"reference": item.patient},
    }


def merge_entries(
    entries: Sequence[Mapping[str, Any]],
    items: Iterable[AgendaItem],
    stamp: str,
    open_patients: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """The agenda's entries after this build: new patients added; an undecided item gets today's reasons
    (keeping the day it was added); a decided one (with a ``flag``) never changes. When
    ``open_patients`` is given, an undecided item of a patient not among them (no open plan any more:
    discharged, say) is dropped."""
    merged = [
        dict(e)
        for e in entries
        if open_patients is None
        or e.get("flag")
        or str((e.get("item") or {}).get("reference")) in open_patients
    ]
    position = {str((e.get("item") or {}).get("reference")): i for i, e in enumerate(merged)}
    for item in items:
        fresh = _entry(item, stamp)
        at = position.get(item.patient)
        if at is None:
            position[item.patient] = len(merged)
            merged.append(fresh)
        elif not merged[at].get("flag"):
            merged[at] = {**fresh, "date": merged[at].get("date", stamp)}
    return merged


def agenda_list(list_id: str, label: str, entries: Sequence[Mapping[str, Any]], stamp: str) -> dict[str, Any]:
    """The month's agenda List (``label`` YYYY-MM)."""
    resource: dict[str, Any] = {
        "resourceType": "List",
        "id": list_id,
        "status": "current",
        "mode": "working",
        "title": f"MDT agenda {label}",
        "code": AGENDA_CODE,
        "date": stamp,
    }
    if entries:
        resource["entry"] = [dict(e) for e in entries]
    else:  # R4: an empty List says why, and JSON carries no empty arrays
        resource["emptyReason"] = {"text": "No patient needs the MDT this month"}
    return resource


def is_agenda(resource: Mapping[str, Any]) -> bool:
    codings = (resource.get("code") or {}).get("coding") or ()
    return any(c.get("system") == AGENDA_SYSTEM and c.get("code") == "mdt-agenda" for c in codings)


def _key(actor: Mapping[str, Any]) -> tuple[str, str]:
    return str(actor.get("reference") or ""), str(actor.get("display") or "")


def merge_members(
    participants: Sequence[Mapping[str, Any]], teams: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The meeting's participants with every named member of ``teams`` (CareTeams) asked once."""
    merged = [dict(p) for p in participants]
    known = {_key(p.get("actor") or {}) for p in merged}
    for team in teams:
        for member in team.get("participant") or ():
            who = member.get("member")
            if not isinstance(who, Mapping) or not (who.get("reference") or who.get("display")):
                continue
            if _key(who) in known:
                continue
            known.add(_key(who))
            merged.append(
                {
                    "type": list(member.get("role") or [])[:1],
                    "actor": dict(who),
                    "required": "required",
                    "status": "needs-action",
                }
            )
    return merged


def meeting(
    meeting_id: str, list_id: str, start: datetime, minutes: int, participants: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The practice's MDT meeting: no patient participant (it is in no patient's compartment)."""
    asked = [dict(p) for p in participants] or [
        {"actor": {"display": "Care team"}, "required": "required", "status": "needs-action"}
    ]
    return mdt_appointment(meeting_id, start, minutes, f"List/{list_id}", asked)


def deferred_patients(previous: Mapping[str, Any] | None) -> list[str]:
    """The patients whose item on an agenda was deferred (``mdt-outcome#deferred``)."""
    return [
        str((e.get("item") or {}).get("reference"))
        for e in (previous or {}).get("entry") or ()
        if any(c.get("code") == "deferred" for c in (e.get("flag") or {}).get("coding") or ())
    ]


def outcome_flag(outcome: str, note: str | None) -> dict[str, Any]:
    flag: dict[str, Any] = {
        "coding": [{"system": MDT_OUTCOME_SYSTEM, "code": outcome, "display": OUTCOMES[outcome]}]
    }
    if note:
        flag["text"] = note
    return flag


def plan_of_entry(entry: Mapping[str, Any]) -> str | None:
    for extension in entry.get("extension") or ():
        if extension.get("url") == PLAN_EXTENSION:
            reference = (extension.get("valueReference") or {}).get("reference")
            return str(reference) if reference else None
    return None


def plan_with_outcome(
    plan: Mapping[str, Any], agenda: Mapping[str, Any], outcome: str, note: str | None, now: str
) -> dict[str, Any]:
    """The plan with the MDT's outcome as a note and the agenda in ``supportingInfo`` (once)."""
    text = f"{agenda.get('title')}: {OUTCOMES[outcome]}." + (f" {note}" if note else "")
    changed = {**plan, "note": [*(plan.get("note") or []), {"time": now, "text": text}]}
    link = {"reference": f"List/{agenda['id']}", "display": str(agenda.get("title"))}
    if link["reference"] not in {r.get("reference") for r in plan.get("supportingInfo") or ()}:
        changed["supportingInfo"] = [*(plan.get("supportingInfo") or []), link]
    return changed
