"""The workflow's moves after triage, as the Task operations run them (in the caller's transaction).

``$transition``      a move with no other effect (a review's decision, declined, no response)
``$invite``          eligible | no-response -> invited: the letter as a Communication, ``patient.invited``
``$record-consent``  invited -> consented (Consent active) | declined (Consent rejected)
``$enrol``           consented -> enrolled: an EpisodeOfCare of up to 2 years, ``patient.enrolled``
``$discharge``       enrolled -> discharged: the EpisodeOfCare finished, ``patient.discharged``
A move the workflow does not allow is a 409; a move that needs its own operation is a 422.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import date, datetime
from typing import Any

from services.referral import repository
from services.referral.domain.eligibility import add_months
from services.referral.domain.workflow import OPERATION_FOR, InvalidTransition, State, check_transition
from services.referral.fhir_mapping import REFERRAL_TASK, collection, moved_task, state_of
from services.referral.operations.invitations import invitation, practice_template, render_letter
from services.referral.operations.triage import decide, records_held
from shared.contracts import PATIENT_DISCHARGED_V1, PATIENT_ENROLLED_V1, PATIENT_INVITED_V1
from shared.fhir import ODS_SYSTEM, Conflict, Gone, NotFound, UnitOfWork, Unprocessable, reference

__all__ = ["discharge", "enrol", "invite", "move", "record_consent", "workflow_state"]


def workflow_state(task: dict[str, Any]) -> State:
    """The Task's state, refusing Tasks that are not a live referral workflow."""
    codings = (task.get("code") or {}).get("coding", [])
    if not any(
        c.get("system") == REFERRAL_TASK["system"] and c.get("code") == REFERRAL_TASK["code"] for c in codings
    ):
        raise Unprocessable(f"Task/{task['id']} is not a referral workflow Task")
    if task.get("status") in ("cancelled", "entered-in-error"):
        raise Conflict(f"The referral of Task/{task['id']} was withdrawn by its sender")
    return state_of(task)


def _step(task: dict[str, Any], target: State) -> None:
    try:
        check_transition(workflow_state(task), target)
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from exc


def _referral(uow: UnitOfWork, task: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    service_request = uow.read("ServiceRequest", task["focus"]["reference"].removeprefix("ServiceRequest/"))
    patient = uow.read("Patient", task["for"]["reference"].removeprefix("Patient/"))
    return service_request, patient


def move(
    uow: UnitOfWork, task: dict[str, Any], target: State, now: datetime, note: str | None
) -> dict[str, Any]:
    """A move with no effect of its own; a review's decision tells the other services, as triage does."""
    if target in OPERATION_FOR:
        raise Unprocessable(
            f"Moving a referral to {target} has effects of its own: use {OPERATION_FOR[target]}"
        )
    _step(task, target)
    moved = moved_task(task, target, now, note=note)
    if target is State.INELIGIBLE:  # the reasons the review weighed: those that did not hold or were unknown
        weighed = [
            o["valueCodeableConcept"]["coding"][0]
            for o in task.get("output", [])
            if str(o.get("type", {}).get("text", "")).startswith("Eligibility reason")
            and not o["type"]["text"].endswith(("(met)", "(noted)"))
        ]
        reason: dict[str, Any] = {"text": note or "Not eligible after review"}
        if weighed:  # R4 JSON: no empty array (every reason held: the reviewer's note alone)
            reason["coding"] = weighed
        moved["statusReason"] = reason
    task = uow.replace(moved, activity=None)
    if target in (State.ELIGIBLE, State.INELIGIBLE):
        service_request, patient = _referral(uow, task)
        decide(uow, service_request, patient, task)
    return task


def invite(uow: UnitOfWork, task: dict[str, Any], overrides: dict[str, str], now: datetime) -> dict[str, Any]:
    """Send the practice's invitation letter; returns the Communication."""
    _step(task, State.INVITED)
    service_request, patient = _referral(uow, task)
    template, details = practice_template(uow, uow.practice)
    details = {**details, **overrides}
    text = render_letter(template, details, patient, now)
    practice_name = details["practice_name"]
    letter = uow.create(
        invitation(text, service_request, task, uow.practice, practice_name, now), activity=None
    )
    output = {"type": {"text": "Invitation letter"}, "valueReference": {"reference": reference(letter)}}
    uow.replace(moved_task(task, State.INVITED, now, outputs=[output]), activity=None)
    uow.emit(PATIENT_INVITED_V1, reference(letter), letter)
    return letter


def record_consent(
    uow: UnitOfWork, task: dict[str, Any], agreed: bool, on: date, now: datetime
) -> dict[str, Any]:
    """The patient's answer as a Consent (active or rejected); the Task moves to consented or declined."""
    target = State.CONSENTED if agreed else State.DECLINED
    _step(task, target)
    consent = uow.create(
        {
            "resourceType": "Consent",
            "status": "active" if agreed else "rejected",
            "scope": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "treatment"}
                ]
            },
            "category": [
                {"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}
            ],
            "patient": dict(task["for"]),
            "dateTime": on.isoformat(),
            "organization": [{"identifier": {"system": ODS_SYSTEM, "value": uow.practice}}],
            "policyRule": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                        "code": "OPTIN" if agreed else "OPTOUT",
                    }
                ]
            },
            "provision": {
                "type": "permit" if agreed else "deny",
                "data": [{"meaning": "related", "reference": dict(task["focus"])}],
            },
        },
        activity=None,
    )
    output = {"type": {"text": "Consent"}, "valueReference": {"reference": reference(consent)}}
    uow.replace(moved_task(task, target, now, outputs=[output]), activity=None)
    return consent


def _consent(uow: UnitOfWork, task: dict[str, Any]) -> dict[str, Any]:
    for output in reversed(task.get("output", [])):
        ref = (output.get("valueReference") or {}).get("reference", "")
        if ref.startswith("Consent/"):
            return uow.read("Consent", ref.removeprefix("Consent/"))
    raise Unprocessable("The referral has no recorded Consent")


def enrol(
    uow: UnitOfWork, task: dict[str, Any], start: date, end: date | None, longest_months: int, now: datetime
) -> dict[str, Any]:
    """Enrol the patient: an EpisodeOfCare from `start` for at most `longest_months` (2 years)."""
    _step(task, State.ENROLLED)
    limit = add_months(start, longest_months)
    if end is not None and not start <= end <= limit:
        raise Unprocessable(f"An enrolment ends between its start and {limit.isoformat()} (up to 2 years)")
    service_request, patient = _referral(uow, task)
    episode = uow.create(
        {
            "resourceType": "EpisodeOfCare",
            "status": "active",
            "type": [{"text": "Pain and opioid review service"}],
            "patient": dict(task["for"]),
            "managingOrganization": {"identifier": {"system": ODS_SYSTEM, "value": uow.practice}},
            "period": {"start": start.isoformat(), "end": (end or limit).isoformat()},
            "referralRequest": [{"reference": reference(service_request)}],
        },
        activity=None,
    )
    repository.enrolled(uow, task["for"]["reference"], reference(episode), now)
    consent = _consent(uow, task)
    output = {"type": {"text": "Enrolment"}, "valueReference": {"reference": reference(episode)}}
    uow.replace(moved_task(task, State.ENROLLED, now, outputs=[output]), activity=None)
    listed = [r for r in records_held(uow, reference(patient)) if r["resourceType"] != "Flag"]
    data = collection([episode, patient, service_request, consent, *listed, *_medications(uow, listed)])
    uow.emit(PATIENT_ENROLLED_V1, reference(episode), data)
    return episode


def _medications(uow: UnitOfWork, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Medication resources the medicines refer to (contained ones travel inside them)."""
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        ref = str((record.get("medicationReference") or {}).get("reference", ""))
        if ref.startswith("Medication/") and ref not in found:
            with suppress(NotFound, Gone):
                found[ref] = uow.read("Medication", ref.removeprefix("Medication/"))
    return list(found.values())


def discharge(
    uow: UnitOfWork, task: dict[str, Any], on: date, note: str | None, now: datetime
) -> dict[str, Any]:
    """End the enrolment: the EpisodeOfCare finished on `on`, the referral completed."""
    _step(task, State.DISCHARGED)
    service_request, _patient = _referral(uow, task)
    ref = next(
        o["valueReference"]["reference"]
        for o in reversed(task.get("output", []))
        if str((o.get("valueReference") or {}).get("reference", "")).startswith("EpisodeOfCare/")
    )
    episode = uow.read("EpisodeOfCare", ref.removeprefix("EpisodeOfCare/"))
    if on.isoformat() < episode["period"]["start"]:
        raise Unprocessable("A discharge cannot come before the enrolment began")
    period = {**episode["period"], "end": on.isoformat()}
    episode = uow.replace({**episode, "status": "finished", "period": period}, activity=None)
    patient = str(episode["patient"]["reference"])
    repository.discharged(uow, patient, ref, now)
    if service_request.get("status") == "active":
        uow.replace({**service_request, "status": "completed"}, activity=None)
    uow.replace(moved_task(task, State.DISCHARGED, now, note=note), activity=None)
    uow.emit(PATIENT_DISCHARGED_V1, reference(episode), episode)
    return episode
