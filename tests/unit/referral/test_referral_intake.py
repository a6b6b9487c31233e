"""Intake at the kernel's unit of work: ``$process-message`` run as the kernel runs it (``prepare``, then
``handler(call, uow)`` in one transaction with the X-Request-Id claim, the batched writes and the
AuditEvent), against the referral service over a SQLite file; no HTTP, no polling.

The rules under test are the ones `services.referral.operations.intake` and `.messages` document: a
message accepted stores its resources, the message record, the workflow Task and its events in the
caller's transaction ("a refusal anywhere leaves nothing behind"); a Patient is found by NHS number
among those held here (and left as it is), else created; a message id seen before is a duplicate (409)
whose answer says where the original referral is; records held from before count for a patient already
held; an update may decide a referral still undecided.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from nhs_number import is_valid

from services.referral.domain.workflow import REFERRAL_STATUS_SYSTEM
from services.referral.fhir_mapping import URI_SYSTEM
from services.referral.operations import intake
from shared.fhir import DUPLICATE_TEXT, Conflict, Duplicate, FhirError, Unprocessable, nhs_number_of
from tests.support.referral_records import CHRONIC_BACK_PAIN, monthly, nhs_number_for, patient
from tests.support.referral_unit import PRACTICE, ReferralUnit, bars_message_bundle, referral_unit

# Eligible on 15 June 2024 by the rules (eligibility package docstring): 53 years old, codeine issued
# monthly from 1 June 2023 (12 prescriptions, the first before 15 March 2024, the last within 3 months),
# chronic low back pain recorded in 2019.
ELIGIBLE_RECORDS = (*monthly(date(2023, 6, 1), 12, serial=11), CHRONIC_BACK_PAIN)


@pytest.fixture
def referral(tmp_path: Path) -> Iterator[ReferralUnit]:
    unit = referral_unit(tmp_path)
    yield unit
    unit.kernel.engine.dispose()


def _state(task: dict[str, Any]) -> str:
    return next(c["code"] for c in task["businessStatus"]["coding"] if c["system"] == REFERRAL_STATUS_SYSTEM)


def _send(referral: ReferralUnit, message: dict[str, Any], request_id: str | None = None) -> str:
    """Process ``message`` (201 or 200 expected) and return the id of the ServiceRequest it names."""
    response = referral.call("process-message", message, request_id=request_id)
    assert response.status_code in (200, 201), response.body
    return str(response.headers["location"].rsplit("/", 1)[1])


def test_an_accepted_message_stores_referral_patient_task_provenance_and_events_together(
    referral: ReferralUnit,
) -> None:
    message = bars_message_bundle(referral.endpoint, patient(serial=11), ELIGIBLE_RECORDS)
    response = referral.call("process-message", message, request_id="req-new-1")

    assert response.status_code == 201
    [service_request] = referral.resources("ServiceRequest")
    assert response.headers["location"] == f"http://testserver/fhir/ServiceRequest/{service_request['id']}"
    # the sender's focus fullUrl kept as an identifier; its subject rewritten to our Patient
    focus_url = message["entry"][1]["fullUrl"]
    assert {"system": URI_SYSTEM, "value": focus_url} in service_request["identifier"]
    [held_patient] = referral.resources("Patient")
    assert service_request["subject"] == {"reference": f"Patient/{held_patient['id']}"}
    assert nhs_number_of(held_patient) == nhs_number_for(11)  # created: no patient held had the number
    assert is_valid(nhs_number_for(11))  # a synthetic number of the 999 test range
    assert len(referral.resources("MedicationRequest")) == 12
    assert len(referral.resources("Condition")) == 1

    [task] = referral.resources("Task")
    assert task["focus"] == {"reference": f"ServiceRequest/{service_request['id']}"}
    assert task["for"] == service_request["subject"]
    assert task["owner"]["identifier"]["value"] == PRACTICE
    assert _state(task) == "eligible"  # received -> triaged -> eligible, all in this transaction
    assert task["meta"]["versionId"] == "3"

    # One Provenance signs the whole act: every version the message wrote, the Task's three included.
    [provenance] = referral.resources("Provenance")
    assert provenance["activity"]["coding"][0]["code"] == "CREATE"
    targets = {t["reference"] for t in provenance["target"]}
    written = {
        f"{r['resourceType']}/{r['id']}/_history/{r['meta']['versionId']}"
        for kind in ("ServiceRequest", "Patient", "MedicationRequest", "Condition")
        for r in referral.resources(kind)
    }
    assert targets == written | {f"Task/{task['id']}/_history/{n}" for n in (1, 2, 3)}
    [audit] = referral.resources("AuditEvent")
    named = [e.get("what", {}).get("reference") for e in audit["entity"]]
    assert f"ServiceRequest/{service_request['id']}" in named
    assert f"Patient/{held_patient['id']}" in named

    events = referral.events()
    assert [(e["type"], e["subject"]) for e in events] == [
        ("referral.received.v1", f"ServiceRequest/{service_request['id']}"),
        ("referral.accepted.v1", f"ServiceRequest/{service_request['id']}"),
    ]
    assert events[0]["data"]["identifier"]["value"] == f"urn:uuid:{message['id']}"
    counts = referral.snapshot()
    assert (counts["bars_message"], counts["fhir_request"]) == (1, 1)  # the message and its X-Request-Id


@pytest.mark.parametrize(
    ("held_serial", "found"),
    [
        (21, True),  # the same NHS number: intake._assign_ids finds the patient held here
        (22, False),  # another NHS number: a new Patient
    ],
)
def test_the_patient_is_found_by_nhs_number_and_their_records_held_here_count(
    referral: ReferralUnit, held_serial: int, found: bool
) -> None:
    # Held before: the patient (pat-<serial>) with a year of monthly codeine and chronic back pain.
    with referral.unit() as uow:
        held = uow.create(patient(serial=held_serial), resource_id=f"pat-{held_serial}")
        for record in (*monthly(date(2023, 6, 1), 12, serial=held_serial), CHRONIC_BACK_PAIN):
            uow.create({**record, "subject": {"reference": f"Patient/{held['id']}"}})

    message = bars_message_bundle(referral.endpoint, patient(serial=21))  # no records in the message
    service_request = referral.read(f"ServiceRequest/{_send(referral, message)}")
    [task] = referral.resources("Task")
    subject = service_request["subject"]["reference"]
    if found:
        assert subject == "Patient/pat-21"
        assert len(referral.resources("Patient")) == 1
        assert referral.read(subject) == held  # the Patient held is the practice's: not replaced
        # intake: "records held from before count too": eligible on them (see ELIGIBLE_RECORDS)
        assert _state(task) == "eligible"
    else:
        assert subject != "Patient/pat-22"
        assert nhs_number_of(referral.read(subject)) == nhs_number_for(21)
        assert len(referral.resources("Patient")) == 2
        # a patient new here has only what the message brought: no medicines, so no decision
        # (eligibility docstring: a missing medication record makes it needs-review)
        assert _state(task) == "needs-review"


@pytest.mark.parametrize("same_request_id", [True, False], ids=["same-request-id", "new-request-id"])
def test_the_same_message_twice_is_a_duplicate_that_points_at_the_original_and_changes_nothing(
    referral: ReferralUnit, same_request_id: bool
) -> None:
    """messages.py: a sender that lost its 201 and resent (the same X-Request-Id or the same message)
    learns where its referral is; intake._check_message: a message id seen before is a duplicate."""
    message = bars_message_bundle(referral.endpoint, patient(serial=31), ELIGIBLE_RECORDS)
    original = _send(referral, message, request_id="req-first")
    before = referral.snapshot()

    with pytest.raises(Duplicate) as repeat:
        referral.call(
            "process-message", copy.deepcopy(message), request_id="req-first" if same_request_id else "req-2"
        )

    assert repeat.value.status == 409
    [issue] = repeat.value.to_operation_outcome()["issue"]
    assert (issue["severity"], issue["code"], issue["diagnostics"]) == ("error", "duplicate", DUPLICATE_TEXT)
    assert repeat.value.headers["Location"] == f"http://testserver/fhir/ServiceRequest/{original}"
    assert referral.snapshot() == before


def _first(referral: ReferralUnit, urls: dict[str, str], **service_request: Any) -> str:
    """The first message about a referral (its sender urls kept in ``urls``), processed: its id."""
    message = bars_message_bundle(
        referral.endpoint, patient(serial=41), ELIGIBLE_RECORDS, urls=urls, **service_request
    )
    return _send(referral, message)


def _later(referral: ReferralUnit, urls: dict[str, str], reason: str, **kwargs: Any) -> dict[str, Any]:
    return bars_message_bundle(
        referral.endpoint, patient(serial=41), ELIGIBLE_RECORDS, urls=urls, reason=reason, **kwargs
    )


def _resent_as_new(referral: ReferralUnit, urls: dict[str, str]) -> dict[str, Any]:
    _first(referral, urls)
    return _later(referral, urls, "new", timestamp="2024-06-16T10:00:00+00:00")


def _update_of_unknown_referral(referral: ReferralUnit, urls: dict[str, str]) -> dict[str, Any]:
    return _later(referral, urls, "update")


def _answer_to_unknown_message(referral: ReferralUnit, urls: dict[str, str]) -> dict[str, Any]:
    message = _later(referral, urls, "new")
    message["entry"][0]["resource"]["response"] = {"identifier": str(uuid.uuid4()), "code": "ok"}
    return message


def _older_update(referral: ReferralUnit, urls: dict[str, str]) -> dict[str, Any]:
    _first(referral, urls)
    return _later(referral, urls, "update", timestamp="2024-06-14T10:00:00+00:00", priority="urgent")


def _delete_of_revoked(referral: ReferralUnit, urls: dict[str, str]) -> dict[str, Any]:
    _first(referral, urls, status="revoked")
    return _later(referral, urls, "delete", timestamp="2024-06-16T10:00:00+00:00")


Arrange = Callable[[ReferralUnit, dict[str, str]], dict[str, Any]]


@pytest.mark.parametrize(
    ("arrange", "refusal", "code", "says"),
    [
        # intake._check_message: reason 'new' for a focus received before
        (_resent_as_new, Conflict, "conflict", "send it with reason 'update'"),
        # intake._check_message: an update or delete must name a referral received here
        (_update_of_unknown_referral, Unprocessable, "not-found", "names a referral not received here"),
        # intake._check_message: MessageHeader.response.identifier must name a message received here
        (_answer_to_unknown_message, Unprocessable, "not-found", "names no message received here"),
        # intake._check_message: a message older than the referral held is not applied
        (_older_update, Conflict, "conflict", "is older than the referral held"),
        # intake.cancel (triage.cancel): a withdrawal only while the referral is active
        (_delete_of_revoked, Conflict, "conflict", "can be cancelled only while it is active"),
    ],
    ids=["new-again", "update-unknown", "answer-unknown", "older-update", "delete-revoked"],
)
def test_a_refused_message_is_an_operation_outcome_and_leaves_nothing_behind(
    referral: ReferralUnit, arrange: Arrange, refusal: type[FhirError], code: str, says: str
) -> None:
    urls: dict[str, str] = {}
    message = arrange(referral, urls)
    before = referral.snapshot()

    with pytest.raises(refusal) as refused:
        referral.call("process-message", message, request_id="req-refused")

    [issue] = refused.value.to_operation_outcome()["issue"]
    assert (issue["severity"], issue["code"]) == ("error", code)
    assert says in issue["diagnostics"]
    assert referral.snapshot() == before  # no resource version, event, message record or claim


def test_an_update_of_a_referral_no_longer_active_is_refused_and_leaves_nothing_behind(
    referral: ReferralUnit,
) -> None:
    """intake.process_message: an update applies only while the referral is active. An under-18 patient
    (18th birthday the day after the referral date: the eligibility docstring's adult rule) is
    ineligible, which revokes the ServiceRequest (triage docstring)."""
    urls: dict[str, str] = {}
    young = patient(birth_date="2006-06-16", serial=42)
    service_request_id = _send(
        referral, bars_message_bundle(referral.endpoint, young, ELIGIBLE_RECORDS, urls=urls)
    )
    assert referral.read(f"ServiceRequest/{service_request_id}")["status"] == "revoked"
    before = referral.snapshot()
    update = bars_message_bundle(
        referral.endpoint,
        young,
        ELIGIBLE_RECORDS,
        urls=urls,
        reason="update",
        timestamp="2024-06-16T10:00:00+00:00",
        priority="urgent",
    )
    with pytest.raises(Conflict, match="The referral is revoked: an update applies only while it is active"):
        referral.call("process-message", update)
    assert referral.snapshot() == before


def test_a_refusal_after_every_write_rolls_all_of_it_back_and_frees_the_ids(
    referral: ReferralUnit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel's one transaction: the workflow runs (Task, triage, events), then something refuses;
    nothing stays, neither the X-Request-Id claim nor the message id, so the same message is then
    processed (the failure is injected: no rule of intake refuses that late)."""
    started = intake.start_workflow

    def start_then_refuse(*args: Any, **kwargs: Any) -> dict[str, Any]:
        started(*args, **kwargs)
        raise Unprocessable("refused after the workflow was written (injected)")

    empty = referral.snapshot()
    message = bars_message_bundle(referral.endpoint, patient(serial=51), ELIGIBLE_RECORDS)
    monkeypatch.setattr(intake, "start_workflow", start_then_refuse)
    with pytest.raises(Unprocessable, match="injected"):
        referral.call("process-message", message, request_id="req-late")
    assert referral.snapshot() == empty

    monkeypatch.undo()
    _send(referral, message, request_id="req-late")
    assert [e["type"] for e in referral.events()] == ["referral.received.v1", "referral.accepted.v1"]


def test_an_update_bringing_the_missing_record_decides_a_referral_waiting_for_review(
    referral: ReferralUnit,
) -> None:
    """intake.process_message: new records may decide a referral still open. Without a pain condition
    the rules cannot decide (eligibility docstring: no current pain condition -> needs-review); the
    update brings chronic low back pain recorded in 2019, which meets the rule."""
    urls: dict[str, str] = {}
    medicines = monthly(date(2023, 6, 1), 12, serial=61)
    service_request_id = _send(
        referral, bars_message_bundle(referral.endpoint, patient(serial=61), medicines, urls=urls)
    )
    [task] = referral.resources("Task")
    assert _state(task) == "needs-review"
    assert [e["type"] for e in referral.events()] == ["referral.received.v1"]

    update = bars_message_bundle(
        referral.endpoint,
        patient(serial=61),
        [*medicines, CHRONIC_BACK_PAIN],
        urls=urls,
        reason="update",
        timestamp="2024-06-16T10:00:00+00:00",
    )
    response = referral.call("process-message", update)

    assert response.status_code == 200
    [task] = referral.resources("Task")
    assert _state(task) == "eligible"
    assert [e["type"] for e in referral.events()] == ["referral.received.v1", "referral.accepted.v1"]
    assert len(referral.resources("ServiceRequest")) == 1
    assert referral.read(f"ServiceRequest/{service_request_id}")["meta"]["versionId"] == "2"


def test_a_delete_withdraws_an_open_referral(referral: ReferralUnit) -> None:
    """BaRS reason 'delete' (intake.process_message, triage.cancel): the referral and its Task become
    entered-in-error, while it is active and before enrolment."""
    urls: dict[str, str] = {}
    service_request_id = _first(referral, urls)
    delete = _later(referral, urls, "delete", timestamp="2024-06-16T10:00:00+00:00")
    response = referral.call("process-message", delete)

    assert response.status_code == 200
    assert referral.read(f"ServiceRequest/{service_request_id}")["status"] == "entered-in-error"
    [task] = referral.resources("Task")
    assert (task["status"], _state(task)) == ("entered-in-error", "eligible")
