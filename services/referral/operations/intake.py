"""Intake: a BaRS message, or a ServiceRequest posted directly, becomes a stored referral and its workflow.

Everything happens in the caller's transaction (the X-Request-Id claim, the resources, the message
record, the Task, the events, the audit record): a refusal anywhere leaves nothing behind.

A message's Patient is created only when the practice holds none for it (none with its NHS number, none
an earlier message of the sender created): a Patient held is the practice's record, and the referral
points at it as it is; the sender's Patient replaces nothing and is not kept (services/referral/README.md).
An update or delete is refused (409) when it is older than the newest timestamped message held about the
referral.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.referral import repository
from services.referral.domain.workflow import State
from services.referral.fhir_mapping import URI_SYSTEM, new_task, state_of
from services.referral.fhir_mapping.bars import Message, resolve_references
from services.referral.operations.triage import WITHDRAWN, cancel, receive, records_held, triage
from services.referral.repository import RECORD_TYPES
from shared.fhir import (
    DUPLICATE_TEXT,
    Conflict,
    Duplicate,
    Gone,
    NotFound,
    UnitOfWork,
    Unprocessable,
    new_id,
    nhs_number_of,
    patient_of,
    reference,
)

__all__ = ["Intake", "process_message", "start_workflow"]

UNDECIDED = (State.RECEIVED, State.TRIAGED, State.NEEDS_REVIEW)


@dataclass(frozen=True)
class Intake:
    """What one message did: its referral, its patient, and whether the referral is new."""

    service_request_id: str
    patient: str
    created: bool
    reason: str


def start_workflow(
    uow: UnitOfWork,
    service_request: dict[str, Any],
    patient: dict[str, Any],
    now: datetime,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """A new referral's Task (received), ``referral.received``, then triage on the patient's `records`."""
    task = uow.create(new_task(service_request, uow.practice, now), activity=None)
    receive(uow, service_request, patient, task)
    return triage(uow, service_request, task, now, records)


def _assign_ids(
    uow: UnitOfWork, message: Message, held: dict[str, tuple[str, str]]
) -> tuple[dict[str, str], set[str], dict[str, tuple[str, str]]]:
    """Our id for each entry: the one a previous message got, the patient we hold, or a new one."""
    ids: dict[str, str] = {}
    existing: set[str] = set()
    fresh: dict[str, tuple[str, str]] = {}
    for entry in message.entries:
        kind = entry.resource["resourceType"]
        if entry.full_url in held and held[entry.full_url][0] == kind:
            rid = held[entry.full_url][1]
            existing.add(entry.full_url)
        else:
            found = None
            if kind == "Patient" and (nhs := nhs_number_of(entry.resource)):
                found = repository.patient_with_nhs_number(uow, nhs)
            rid = found or new_id()
            if found:
                existing.add(entry.full_url)
            fresh[entry.full_url] = (kind, rid)
        ids[entry.full_url] = f"{kind}/{rid}"
    return ids, existing, fresh


def _held_patient(uow: UnitOfWork, resource: dict[str, Any], rid: str) -> dict[str, Any] | None:
    """The Patient held here that a message's Patient entry names; None for any other entry (and for a
    Patient deleted since an earlier message created it, which the message writes again)."""
    if resource["resourceType"] != "Patient":
        return None
    try:
        return uow.read("Patient", rid)
    except (NotFound, Gone):
        return None


def _with_sender_identifier(service_request: dict[str, Any], full_url: str) -> dict[str, Any]:
    identifiers = list(service_request.get("identifier", []))
    if not any(i.get("system") == URI_SYSTEM and i.get("value") == full_url for i in identifiers):
        identifiers.append({"system": URI_SYSTEM, "value": full_url})
    return {**service_request, "identifier": identifiers}


FUTURE_SKEW = timedelta(minutes=5)
"""How far ahead of this service's clock a message's timestamp may be (the sender's clock's drift)."""


def _check_message(
    uow: UnitOfWork, message: Message, held: dict[str, tuple[str, str]]
) -> dict[str, Any] | None:
    """Refusals that need what we hold; returns the referral held for an update or delete."""
    if repository.message_seen(uow, message.message_id):
        raise Duplicate(DUPLICATE_TEXT)
    if message.sent_at > uow.now + FUTURE_SKEW:
        # a message dated ahead would order every later one before it: "9999-12-31" locked a referral
        # against every update and withdrawal (an attacker's review, 2026-12-07)
        raise Unprocessable(
            f"Bundle.timestamp is ahead of this service's clock by more than {FUTURE_SKEW}: not applied",
            issue_code="value",
            expression=["Bundle.timestamp"],
        )
    if message.response_id is not None and repository.held_message(uow, message.response_id) is None:
        raise Unprocessable(
            f"MessageHeader.response.identifier {message.response_id} names no message received here",
            issue_code="not-found",
            expression=["MessageHeader.response.identifier"],
        )
    if message.reason == "new":
        if message.focus_url in held:
            raise Conflict("This referral was received before: send it with reason 'update' to change it")
        return None
    if message.focus_url not in held:
        raise Unprocessable(
            f"The {message.reason} names a referral not received here ({message.focus_url})",
            issue_code="not-found",
            expression=["MessageHeader.focus"],
        )
    current = uow.read("ServiceRequest", held[message.focus_url][1])
    latest = repository.latest_sent_at(uow, current["id"])  # records held without one do not count
    if latest is not None and message.sent_at < latest:
        raise Conflict(
            f"The message ({message.sent_at.isoformat()}) is older than the referral held "
            f"({latest.isoformat()}): not applied"
        )
    return current


def process_message(uow: UnitOfWork, message: Message, now: datetime) -> Intake:
    """Store a checked BaRS message (resources, message record, workflow) in the caller's transaction.

    In a batched unit of work the new resources and their Provenance are kept for the kernel to insert
    together with the AuditEvent (which names the referral and patient this returns)."""
    patients = [nhs_number_of(e.resource) for e in message.entries if e.resource["resourceType"] == "Patient"]
    repository.lock(  # concurrent messages naming the same ids or patient take turns (PostgreSQL)
        uow,
        f"{uow.practice}|message|{message.message_id}",
        *(f"{uow.practice}|url|{entry.full_url}" for entry in message.entries),
        *(f"{uow.practice}|nhs|{nhs}" for nhs in patients if nhs),
    )
    known = repository.sender_ids(uow, [e.full_url for e in message.entries])
    current = _check_message(uow, message, known)
    incoming_status = message.entry(message.focus_url).resource.get("status")
    withdrawn = message.reason == "delete" or incoming_status in WITHDRAWN
    if current is not None and not withdrawn and current.get("status") != "active":
        raise Conflict(f"The referral is {current.get('status')}: an update applies only while it is active")
    task = repository.workflow_task(uow, current["id"]) if current else None
    if current is not None and withdrawn:
        as_status = "entered-in-error" if message.reason == "delete" else str(incoming_status)
        task = cancel(uow, str(current.get("status")), task, as_status, now)
    ids, existing, fresh = _assign_ids(uow, message, known)
    stored: dict[str, dict[str, Any]] = {}
    for entry in message.entries:
        rid = ids[entry.full_url].partition("/")[2]
        if entry.full_url in existing and (patient := _held_patient(uow, entry.resource, rid)):
            stored[entry.full_url] = patient  # the practice's Patient, as it is: never replaced
            continue
        resource = {**resolve_references(entry.resource, ids), "id": rid}
        if entry.full_url == message.focus_url:
            resource = _with_sender_identifier(resource, entry.full_url)
            if message.reason == "delete":
                resource["status"] = "entered-in-error"
        stored[entry.full_url] = (
            uow.update(resource, activity=None)
            if entry.full_url in existing
            else uow.create(resource, resource_id=rid, activity=None)
        )
    repository.record_sender_ids(uow, fresh)
    service_request, patient = stored[message.focus_url], stored[message.patient_url]
    header = resolve_references(message.header, ids)
    record = repository.HeldMessage(
        message.message_id,
        message.reason,
        message.sent_at,
        {**header, "id": header.get("id") or message.header_url.removeprefix("urn:uuid:")},
    )
    repository.record_message(uow, service_request["id"], record)
    key = reference(patient)
    if message.patient_url in existing:  # records held from before count too
        records = records_held(uow, key)
    else:  # a patient new to us: what this message brought is all there is
        records = [r for r in stored.values() if r["resourceType"] in RECORD_TYPES and patient_of(r) == key]
    if current is None:
        start_workflow(uow, service_request, patient, now, records)
    elif task is not None and not withdrawn and state_of(task) in UNDECIDED:
        triage(uow, service_request, task, now, records)  # new records may decide a referral still open
    uow.sign("CREATE" if current is None else "UPDATE")
    return Intake(service_request["id"], reference(patient), current is None, message.reason)
