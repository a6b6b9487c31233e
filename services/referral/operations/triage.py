"""Triage: the eligibility rules applied to a stored referral, and what each decision sets off.

received -> triaged (the reasons recorded on the Task) -> eligible | ineligible | needs-review.
Eligible emits ``referral.accepted``; ineligible revokes the ServiceRequest and emits
``referral.rejected`` (gpconnect answers a BaRS sender from those); needs-review waits for a project
worker's ``$transition``. All in the caller's transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.referral import repository
from services.referral.domain.eligibility import PatientRecords, assess_eligibility, parse_fhir_date
from services.referral.domain.workflow import CANCELLABLE, State, check_transition, decision_state
from services.referral.fhir_mapping import collection, event_header, moved_task, state_of
from shared.contracts import REFERRAL_ACCEPTED_V1, REFERRAL_RECEIVED_V1, REFERRAL_REJECTED_V1
from shared.fhir import Conflict, UnitOfWork, reference

__all__ = ["cancel", "decide", "receive", "records_held", "referral_date", "triage"]

WITHDRAWN = ("revoked", "entered-in-error")


def referral_date(service_request: dict[str, Any], fallback: date) -> date:
    """The date eligibility is judged on: when the referral was authored, else when it arrived."""
    return parse_fhir_date(service_request.get("authoredOn")) or fallback


def _subject_id(service_request: dict[str, Any]) -> str:
    return str(service_request["subject"]["reference"]).removeprefix("Patient/")


def _event_data(uow: UnitOfWork, *resources: dict[str, Any]) -> dict[str, Any]:
    """A referral event's Bundle; the latest BaRS MessageHeader rides along when there was one."""
    service_request = resources[0]
    held = repository.latest_message(uow, service_request["id"])
    if held is None:
        return collection(list(resources))
    header = event_header(held.header, held.header["id"])
    return collection([*resources, header], identifier=f"urn:uuid:{held.message_id}")


def receive(
    uow: UnitOfWork, service_request: dict[str, Any], patient: dict[str, Any], task: dict[str, Any]
) -> None:
    uow.emit(
        REFERRAL_RECEIVED_V1, reference(service_request), _event_data(uow, service_request, patient, task)
    )


def records_held(uow: UnitOfWork, patient: str) -> list[dict[str, Any]]:
    """The patient's medicines, conditions and flags held here ("Patient/<id>"), this request's included."""
    return repository.patient_records(uow, patient)


def triage(
    uow: UnitOfWork,
    service_request: dict[str, Any],
    task: dict[str, Any],
    now: datetime,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """Assess a received (or still undecided) referral on the patient's `records` (see `records_held`)
    and move its Task on; returns the Task."""
    patient = uow.read("Patient", _subject_id(service_request))
    held = PatientRecords.from_resources(reference(patient), [patient, *records])
    result = assess_eligibility(held, referral_date(service_request, now.date()))
    if state_of(task) is State.RECEIVED:
        task = uow.replace(moved_task(task, State.TRIAGED, now, eligibility=result), activity=None)
    target = decision_state(result.decision)
    if state_of(task) is target:  # still needs review: record the new reasons, nothing more
        return uow.replace(moved_task(task, target, now, eligibility=result), activity=None)
    check_transition(state_of(task), target)
    task = uow.replace(moved_task(task, target, now, eligibility=result), activity=None)
    return decide(uow, service_request, patient, task)


def decide(
    uow: UnitOfWork, service_request: dict[str, Any], patient: dict[str, Any], task: dict[str, Any]
) -> dict[str, Any]:
    """Tell the other services (and the sender, through gpconnect) what a decided referral became."""
    state = state_of(task)
    if state is State.ELIGIBLE:
        data = _event_data(uow, service_request, patient, task)
        uow.emit(REFERRAL_ACCEPTED_V1, reference(service_request), data)
    elif state is State.INELIGIBLE:
        if service_request.get("status") == "active":
            service_request = uow.replace({**service_request, "status": "revoked"}, activity=None)
        data = _event_data(uow, service_request, patient, task)
        uow.emit(REFERRAL_REJECTED_V1, reference(service_request), data)
    return task


def cancel(
    uow: UnitOfWork, held_status: str, task: dict[str, Any] | None, withdrawn_as: str, now: datetime
) -> dict[str, Any] | None:
    """The sender withdrew the referral: allowed only while it is active and before enrolment."""
    if held_status != "active":
        raise Conflict(f"The referral can be cancelled only while it is active; it is {held_status}")
    if task is None:
        return None
    state = state_of(task)
    if task.get("status") in ("cancelled", "entered-in-error") or state not in CANCELLABLE:
        raise Conflict(f"The referral cannot be cancelled once {state}: discharge the patient instead")
    status = "entered-in-error" if withdrawn_as == "entered-in-error" else "cancelled"
    note = "Withdrawn by the referrer" if status == "cancelled" else "Referral entered in error"
    moved = moved_task(task, state, now, note=note)
    return uow.replace({**moved, "status": status}, activity=None)
