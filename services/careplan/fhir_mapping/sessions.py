"""The resources a session makes: the patient's Appointment for a Slot, the Encounter of an attended session,
and the follow-up Task to the project worker when one was missed. Pure builders of FHIR R4 dicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.careplan.domain.catalogue import FHIR_BASE
from services.careplan.domain.sessions import (
    DELIVERY_CHANNEL_EXTENSION,
    DELIVERY_CHANNEL_SYSTEM,
    FORMAT_EXTENSION,
    FORMAT_SYSTEM,
    SETTING_EXTENSION,
    SETTING_SYSTEM,
    SessionTotals,
)
from shared.fhir import ODS_SYSTEM

__all__ = [
    "CARE_TASK_SYSTEM",
    "attended_encounter",
    "carer_references",
    "channel_of",
    "format_of",
    "reoffer_task",
    "session_appointment",
    "setting_of",
    "totals_parameters",
]

CARE_TASK_SYSTEM = f"{FHIR_BASE}/CodeSystem/care-task-type"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# R4 Encounter.class (v3 ActEncounterCode) for each setting: ambulatory, home health, virtual.
ENCOUNTER_CLASS = {
    "practice": ("AMB", "ambulatory"),
    "home": ("HH", "home health"),
    "remote": ("VR", "virtual"),
}
SETTING_DISPLAY = {"practice": "At the GP practice", "home": "At home", "remote": "Remote"}
FORMAT_DISPLAY = {"one-to-one": "One-to-one", "group": "Group"}


def _coded_extension(url: str, system: str, code: str, display: str) -> dict[str, Any]:
    return {"url": url, "valueCoding": {"system": system, "code": code, "display": display}}


def setting_of(resource: Mapping[str, Any]) -> str | None:
    """The ``session-setting`` code on a Slot, Appointment or Encounter."""
    for extension in resource.get("extension") or ():
        if isinstance(extension, Mapping) and extension.get("url") == SETTING_EXTENSION:
            code = (extension.get("valueCoding") or {}).get("code")
            return str(code) if code else None
    return None


def channel_of(resource: Mapping[str, Any]) -> str | None:
    """UK Core's delivery channel code (In-person, Telephone, Video) on a Slot or Appointment."""
    for extension in resource.get("extension") or ():
        if isinstance(extension, Mapping) and extension.get("url") == DELIVERY_CHANNEL_EXTENSION:
            for coding in (extension.get("valueCodeableConcept") or {}).get("coding") or ():
                if coding.get("system") == DELIVERY_CHANNEL_SYSTEM and coding.get("code"):
                    return str(coding["code"])
    return None


def format_of(resource: Mapping[str, Any]) -> str | None:
    """The ``session-format`` code (one-to-one, group) on a Slot or Appointment."""
    for extension in resource.get("extension") or ():
        if isinstance(extension, Mapping) and extension.get("url") == FORMAT_EXTENSION:
            code = (extension.get("valueCoding") or {}).get("code")
            return str(code) if code else None
    return None


def session_appointment(
    *,
    appointment_id: str,
    slot: Mapping[str, Any],
    schedule: Mapping[str, Any] | None,
    patient: str,
    plan_id: str,
    carers: Sequence[str],
    setting: str,
    channel: str | None,
    session_format: str,
    status: str,
    created: str,
    comment: str | None,
) -> dict[str, Any]:
    """The patient's Appointment for a session Slot: the patient first (the Appointment is in their
    compartment), the Schedule's actors (the project worker, the room), the carers as RelatedPerson."""
    participants: list[dict[str, Any]] = [
        {"actor": {"reference": patient}, "required": "required", "status": "accepted"}
    ]
    for actor in (schedule or {}).get("actor") or ():
        if isinstance(actor, Mapping) and (actor.get("reference") or actor.get("display")):
            participants.append({"actor": dict(actor), "required": "required", "status": "accepted"})
    for carer in carers:
        participants.append(
            {
                "type": [{"text": "carer"}],
                "actor": {"reference": carer},
                "required": "optional",
                "status": "accepted",
            }
        )
    appointment: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appointment_id,
        "status": status,
        "extension": [
            _coded_extension(SETTING_EXTENSION, SETTING_SYSTEM, setting, SETTING_DISPLAY[setting]),
            _coded_extension(FORMAT_EXTENSION, FORMAT_SYSTEM, session_format, FORMAT_DISPLAY[session_format]),
        ],
        "serviceCategory": [{"text": "Pain and opioid review"}],
        "description": f"{FORMAT_DISPLAY[session_format]} session with the project worker",
        "start": slot["start"],
        "end": slot["end"],
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "created": created,
        "supportingInformation": [{"reference": f"CarePlan/{plan_id}"}],
        "participant": participants,
    }
    if channel:
        appointment["extension"].append(
            {
                "url": DELIVERY_CHANNEL_EXTENSION,
                "valueCodeableConcept": {
                    "coding": [{"system": DELIVERY_CHANNEL_SYSTEM, "code": channel, "display": channel}]
                },
            }
        )
    if slot.get("serviceType"):
        appointment["serviceType"] = slot["serviceType"]
    if comment:
        appointment["comment"] = comment
    return appointment


def carer_references(appointment: Mapping[str, Any]) -> list[str]:
    return [
        str(p["actor"]["reference"])
        for p in appointment.get("participant") or ()
        if str((p.get("actor") or {}).get("reference", "")).startswith("RelatedPerson/")
    ]


def _patient(appointment: Mapping[str, Any]) -> str:
    for p in appointment.get("participant") or ():
        ref = str((p.get("actor") or {}).get("reference", ""))
        if ref.startswith("Patient/"):
            return ref
    raise ValueError("the Appointment names no patient")


def _staff(appointment: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        dict(p["actor"])
        for p in appointment.get("participant") or ()
        if str((p.get("actor") or {}).get("reference", "")).startswith(("Practitioner/", "PractitionerRole/"))
    ]


def attended_encounter(appointment: Mapping[str, Any], *, encounter_id: str) -> dict[str, Any]:
    """The finished Encounter of an attended session: the Appointment's time, setting, staff and carers."""
    setting = setting_of(appointment) or "practice"
    code, display = ENCOUNTER_CLASS[setting]
    participants: list[dict[str, Any]] = [
        {"type": [{"text": "project worker"}], "individual": staff} for staff in _staff(appointment)
    ]
    participants += [
        {"type": [{"text": "carer"}], "individual": {"reference": carer}}
        for carer in carer_references(appointment)
    ]
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter_id,
        "status": "finished",
        "class": {"system": ACT_CODE, "code": code, "display": display},
        "subject": {"reference": _patient(appointment)},
        "appointment": [{"reference": f"Appointment/{appointment['id']}"}],
        "period": {"start": appointment["start"], "end": appointment["end"]},
        "extension": [e for e in appointment.get("extension") or () if e.get("url") == SETTING_EXTENSION],
    }
    if appointment.get("serviceType"):
        encounter["type"] = appointment["serviceType"]
    if participants:
        encounter["participant"] = participants
    return encounter


def reoffer_task(
    appointment: Mapping[str, Any], *, task_id: str, practice: str, authored: str
) -> dict[str, Any]:
    """The plan's next step after a missed session: a Task to the project worker to re-offer one."""
    staff = _staff(appointment)
    owner = staff[0] if staff else {"identifier": {"system": ODS_SYSTEM, "value": practice}}
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "status": "requested",
        "intent": "order",
        "priority": "routine",
        "code": {
            "coding": [
                {
                    "system": CARE_TASK_SYSTEM,
                    "code": "re-offer-session",
                    "display": "Re-offer a missed session",
                }
            ]
        },
        "description": f"The patient did not attend the session of {str(appointment['start'])[:10]}: contact "
        "them and offer another (another time, outside working hours if need be, one-to-one rather than a "
        "group, or remote).",
        "for": {"reference": _patient(appointment)},
        "focus": {"reference": f"Appointment/{appointment['id']}"},
        "authoredOn": authored,
        "owner": owner,
    }
    plans = [
        dict(ref)
        for ref in appointment.get("supportingInformation") or ()
        if str(ref.get("reference", "")).startswith("CarePlan/")
    ]
    if plans:
        task["basedOn"] = plans
    return task


def totals_parameters(found: Iterable[SessionTotals]) -> dict[str, Any]:
    """``$session-totals``' answer: one ``patient`` part each (lengths in minutes, UCUM ``min``)."""
    parts = []
    for t in found:
        minutes = {"value": t.minutes, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"}
        parts.append(
            {
                "name": "patient",
                "part": [
                    {"name": "patient", "valueReference": {"reference": t.patient}},
                    {"name": "attended", "valueInteger": t.attended},
                    {"name": "totalLength", "valueQuantity": minutes},
                    {"name": "lengthUnknown", "valueInteger": t.length_unknown},
                    {"name": "booked", "valueInteger": t.booked},
                    {"name": "didNotAttend", "valueInteger": t.did_not_attend},
                    {"name": "cancelled", "valueInteger": t.cancelled},
                    {"name": "waitlisted", "valueInteger": t.waitlisted},
                ],
            }
        )
    return {"resourceType": "Parameters", "parameter": parts}
