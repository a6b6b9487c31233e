"""BaRS intake: the real ValidationRequest example is accepted and answered like BaRS; each BaRS error
case gets its REC_* OperationOutcome; nothing of a refused message is stored or evented."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.fhir import Unprocessable
from tests.support.bars import addressed_to, as_update, eligible_referral, example, focus, fresh, header
from tests.support.referral import Referral

BARS_ERRORS = "https://fhir.nhs.uk/Codesystem/http-error-codes"


def rec_code(response: Any) -> tuple[int, str, str]:
    issue = response.json()["issue"][0]
    return response.status_code, issue["code"], issue["details"]["coding"][0]["code"]


def message_for(referral: Referral) -> dict[str, Any]:
    return fresh(addressed_to(example(), referral.endpoint))


def test_the_bars_validation_request_example_is_accepted_and_answered_like_bars(referral: Referral) -> None:
    response = referral.post("$process-message", addressed_to(example(), referral.endpoint))
    assert response.status_code == 201, response.text
    outcome = response.json()
    expected = example("201_POST.json")
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["meta"] == expected["meta"]
    assert [{k: v for k, v in i.items()} for i in outcome["issue"]] == expected["issue"]
    assert "/ServiceRequest/" in response.headers["location"]


def test_an_accepted_message_stores_every_entry_with_its_references_resolved_to_our_ids(
    referral: Referral,
) -> None:
    message = message_for(referral)
    response = referral.post("$process-message", message)
    service_request = referral.client.get(
        response.headers["location"].removeprefix("http://testserver"), headers=referral.headers()
    ).json()
    assert service_request["subject"]["reference"].startswith("Patient/")
    assert {
        "system": "urn:ietf:rfc:3986",
        "value": header(message)["focus"][0]["reference"],
    } in service_request["identifier"]
    patient = referral.get(service_request["subject"]["reference"]).json()
    assert patient["name"][0]["family"] == "Jones"
    for reference in (
        service_request["requester"],
        service_request["performer"][0],
        service_request["encounter"],
    ):
        assert not reference["reference"].startswith("urn:uuid:")
        assert referral.get(reference["reference"]).status_code == 200
    consents = referral.get("Consent", patient=service_request["subject"]["reference"]).json()
    assert consents["total"] == 1
    observation = referral.get("Observation", patient=service_request["subject"]["reference"]).json()
    assert observation["entry"][0]["resource"]["code"]["coding"][0]["code"] == "271594007"


def test_an_accepted_message_starts_the_workflow_and_records_referral_received_with_its_header(
    referral: Referral,
) -> None:
    message = message_for(referral)
    service_request_id = referral.post("$process-message", message).headers["location"].rsplit("/", 1)[1]
    [received] = referral.events("referral.received")
    assert received["subject"] == f"ServiceRequest/{service_request_id}"
    kinds = [e["resource"]["resourceType"] for e in received["data"]["entry"]]
    assert kinds == ["ServiceRequest", "Patient", "Task", "MessageHeader"]
    task = received["data"]["entry"][2]["resource"]
    assert task["businessStatus"]["coding"][0]["code"] == "received"
    sent_header = received["data"]["entry"][3]["resource"]
    assert sent_header["source"]["endpoint"] == header(message)["source"]["endpoint"]
    assert sent_header["focus"][0]["reference"] == f"ServiceRequest/{service_request_id}"
    assert received["data"]["identifier"]["value"] == f"urn:uuid:{message['id']}"
    # The example carries no medication record: eligibility cannot decide, a project worker reviews.
    held = referral.task_for(service_request_id)
    assert held["businessStatus"]["coding"][0]["code"] == "needs-review"
    assert {"medication-record-missing", "pain-condition-not-recorded"} <= {
        o["valueCodeableConcept"]["coding"][0]["code"] for o in held["output"]
    }
    assert referral.events("referral.accepted", "referral.rejected") == []


def test_an_eligible_referral_is_accepted_and_referral_accepted_carries_the_original_header(
    referral: Referral,
) -> None:
    message = eligible_referral(referral.endpoint)
    response = referral.post("$process-message", message)
    assert response.status_code == 201, response.text
    [accepted] = referral.events("referral.accepted")
    kinds = [e["resource"]["resourceType"] for e in accepted["data"]["entry"]]
    assert kinds == ["ServiceRequest", "Patient", "Task", "MessageHeader"]
    service_request, _patient, task, sent_header = (e["resource"] for e in accepted["data"]["entry"])
    assert service_request["status"] == "active"
    assert task["businessStatus"]["coding"][0]["code"] == "eligible"
    assert sent_header["eventCoding"]["code"] == "servicerequest-request"
    history = referral.get(f"Task/{task['id']}/_history").json()
    states = [e["resource"]["businessStatus"]["coding"][0]["code"] for e in reversed(history["entry"])]
    assert states == ["received", "triaged", "eligible"]


def test_a_repeated_x_request_id_is_answered_409_duplicate_and_processed_once(referral: Referral) -> None:
    message, request_id = message_for(referral), str(uuid.uuid4())
    assert referral.post("$process-message", message, request_id=request_id).status_code == 201
    again = referral.post("$process-message", fresh(message), request_id=request_id)
    assert rec_code(again) == (409, "duplicate", "REC_CONFLICT")
    assert (
        again.json()["issue"][0]["diagnostics"]
        == example("409-REC_CONFLICT-duplicate.json")["issue"][0]["diagnostics"]
    )
    assert referral.get("ServiceRequest").json()["total"] == 1
    assert len(referral.events("referral.received")) == 1


def test_the_same_message_resent_under_a_new_request_id_is_a_duplicate_too(referral: Referral) -> None:
    message = message_for(referral)
    assert referral.post("$process-message", message).status_code == 201
    assert rec_code(referral.post("$process-message", message)) == (409, "duplicate", "REC_CONFLICT")
    assert referral.get("ServiceRequest").json()["total"] == 1


def test_a_resent_message_whose_201_was_lost_is_answered_409_with_the_original_location(
    referral: Referral,
) -> None:
    message, request_id = message_for(referral), str(uuid.uuid4())
    first = referral.post("$process-message", message, request_id=request_id)
    assert first.status_code == 201 and first.headers["Location"].rsplit("/", 2)[-2] == "ServiceRequest"
    for resend_id in (request_id, str(uuid.uuid4())):  # the same X-Request-Id, or a new one
        again = referral.post("$process-message", message, request_id=resend_id)
        assert rec_code(again) == (409, "duplicate", "REC_CONFLICT")
        assert again.headers["Location"] == first.headers["Location"]
    stored = referral.get(first.headers["Location"].rsplit("/fhir/", 1)[1])
    assert stored.status_code == 200
    assert referral.get("ServiceRequest").json()["total"] == 1


def test_a_repeated_request_id_on_another_message_names_no_location(referral: Referral) -> None:
    message, request_id = message_for(referral), str(uuid.uuid4())
    assert referral.post("$process-message", message, request_id=request_id).status_code == 201
    again = referral.post("$process-message", fresh(message), request_id=request_id)
    assert rec_code(again) == (409, "duplicate", "REC_CONFLICT")
    assert "Location" not in again.headers  # this message was never stored: no place to point at


def test_a_message_without_an_x_request_id_is_a_bad_request(referral: Referral) -> None:
    response = referral.post("$process-message", message_for(referral), request_id=None)
    assert rec_code(response) == (400, "required", "REC_BAD_REQUEST")


def test_a_message_without_a_message_header_is_a_bad_request(referral: Referral) -> None:
    message = message_for(referral)
    message["entry"] = message["entry"][1:]
    response = referral.post("$process-message", message)
    assert rec_code(response) == (400, "invalid", "REC_BAD_REQUEST")
    assert "MessageHeader" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("where", ["content_type", "accept"])
def test_an_unsupported_bars_version_is_unprocessable_as_bars_says(referral: Referral, where: str) -> None:
    media = {where: "application/fhir+json; version=2.0.0"}
    response = referral.post("$process-message", message_for(referral), **media)
    expected = example("422-REC_UNPROCESSABLE_ENTITY-not-supported.json")["issue"][0]
    assert rec_code(response) == (422, "not-supported", "REC_UNPROCESSABLE_ENTITY")
    assert response.json()["issue"][0]["diagnostics"] == expected["diagnostics"]


def test_a_supported_bars_version_is_accepted(referral: Referral) -> None:
    response = referral.post(
        "$process-message", message_for(referral), content_type="application/fhir+json;version=1.2.0"
    )
    assert response.status_code == 201


def test_a_response_to_a_message_we_never_received_is_unprocessable(referral: Referral) -> None:
    message = message_for(referral)
    header(message)["response"] = {"identifier": str(uuid.uuid4()), "code": "ok"}
    response = referral.post("$process-message", message)
    assert rec_code(response) == (422, "not-found", "REC_UNPROCESSABLE_ENTITY")


def test_a_response_naming_a_message_we_received_is_accepted(referral: Referral) -> None:
    first = message_for(referral)
    referral.post("$process-message", first)
    second = message_for(referral)
    header(second)["response"] = {"identifier": first["id"], "code": "ok"}
    assert referral.post("$process-message", second).status_code == 201


def test_a_message_addressed_to_another_service_is_refused(referral: Referral) -> None:
    response = referral.post("$process-message", fresh(example()))  # still addressed to 111111111
    assert rec_code(response) == (422, "business-rule", "REC_UNPROCESSABLE_ENTITY")
    assert "not addressed to this service" in response.json()["issue"][0]["diagnostics"]


def test_a_message_of_another_event_is_not_supported(referral: Referral) -> None:
    booking = addressed_to(example("POST-body.json"), referral.endpoint)
    assert rec_code(referral.post("$process-message", booking)) == (
        422,
        "not-supported",
        "REC_UNPROCESSABLE_ENTITY",
    )


def test_an_entry_that_is_not_valid_r4_is_a_bad_request_naming_the_entry(referral: Referral) -> None:
    message = message_for(referral)
    patient = next(e for e in message["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["resource"]["birthDate"] = "4th May 1959"
    response = referral.post("$process-message", message)
    assert rec_code(response) == (400, "invalid", "REC_BAD_REQUEST")
    index = message["entry"].index(patient)
    assert any(
        e.startswith(f"Bundle.entry[{index}].resource.birthDate")
        for i in response.json()["issue"]
        for e in i.get("expression", [])
    )


def test_a_reference_that_resolves_nowhere_in_the_message_is_refused(referral: Referral) -> None:
    message = message_for(referral)
    focus(message)["requester"] = {"reference": f"urn:uuid:{uuid.uuid4()}"}
    assert rec_code(referral.post("$process-message", message)) == (400, "invariant", "REC_BAD_REQUEST")


def test_a_focus_that_is_not_a_service_request_in_the_message_is_refused(referral: Referral) -> None:
    message = message_for(referral)
    header(message)["focus"] = [{"reference": message["entry"][2]["fullUrl"]}]  # the HealthcareService
    assert rec_code(referral.post("$process-message", message)) == (400, "invariant", "REC_BAD_REQUEST")


def test_an_update_applies_to_the_referral_and_an_older_one_is_a_conflict(referral: Referral) -> None:
    message = message_for(referral)
    referral.post("$process-message", message)
    update = as_update(message, "2021-11-26T16:00:00+00:00", priority="urgent")
    response = referral.post("$process-message", update)
    assert response.status_code == 200, response.text
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "RESOURCE_UPDATED"
    [held] = referral.get("ServiceRequest").json()["entry"]
    assert held["resource"]["priority"] == "urgent" and held["resource"]["meta"]["versionId"] == "2"
    assert referral.get("Patient").json()["total"] == 1  # the same patient, updated, not copied
    stale = as_update(message, "2021-11-26T15:30:00+00:00", priority="routine")
    assert rec_code(referral.post("$process-message", stale)) == (409, "conflict", "REC_CONFLICT")
    assert referral.get("ServiceRequest").json()["entry"][0]["resource"]["priority"] == "urgent"


def test_an_update_of_a_referral_never_received_is_unprocessable(referral: Referral) -> None:
    update = as_update(message_for(referral), "2021-11-26T16:00:00+00:00")
    assert rec_code(referral.post("$process-message", update)) == (
        422,
        "not-found",
        "REC_UNPROCESSABLE_ENTITY",
    )


def test_a_second_new_message_for_the_same_referral_is_a_conflict(referral: Referral) -> None:
    message = message_for(referral)
    referral.post("$process-message", message)
    again = as_update(message, "2021-11-26T16:00:00+00:00")
    header(again)["reason"]["coding"][0]["code"] = "new"
    assert rec_code(referral.post("$process-message", again)) == (409, "conflict", "REC_CONFLICT")


def test_a_cancellation_applies_only_while_the_referral_is_active(referral: Referral) -> None:
    message = message_for(referral)
    referral.post("$process-message", message)
    cancel = as_update(message, "2021-11-26T16:00:00+00:00", status="revoked")
    assert referral.post("$process-message", cancel).status_code == 200
    [held] = referral.get("ServiceRequest").json()["entry"]
    assert held["resource"]["status"] == "revoked"
    task = referral.task_for(held["resource"]["id"])
    assert task["status"] == "cancelled"
    again = as_update(message, "2021-11-26T17:00:00+00:00", status="revoked")
    assert rec_code(referral.post("$process-message", again)) == (409, "conflict", "REC_CONFLICT")
    revived = as_update(message, "2021-11-26T18:00:00+00:00", status="active")
    assert rec_code(referral.post("$process-message", revived)) == (409, "conflict", "REC_CONFLICT")


def test_a_delete_marks_the_referral_entered_in_error(referral: Referral) -> None:
    message = message_for(referral)
    referral.post("$process-message", message)
    delete = as_update(message, "2021-11-26T16:00:00+00:00")
    header(delete)["reason"]["coding"][0]["code"] = "delete"
    response = referral.post("$process-message", delete)
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "RESOURCE_DELETED"
    [held] = referral.get("ServiceRequest").json()["entry"]
    assert held["resource"]["status"] == "entered-in-error"
    assert referral.task_for(held["resource"]["id"])["status"] == "entered-in-error"


def test_a_message_refused_after_its_resources_were_written_leaves_nothing_behind(
    referral: Referral, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.referral.operations import intake

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise Unprocessable("refused after every resource was written (injected)")

    message, request_id = message_for(referral), str(uuid.uuid4())
    monkeypatch.setattr(intake, "start_workflow", refuse)
    assert referral.post("$process-message", message, request_id=request_id).status_code == 422
    for resource_type in ("ServiceRequest", "Patient", "Organization", "Consent", "Task"):
        assert referral.get(resource_type, _summary="count").json()["total"] == 0, resource_type
    assert referral.events() == []
    monkeypatch.undo()
    # Neither the request id nor the message id was kept: sent again, the message is processed.
    assert referral.post("$process-message", message, request_id=request_id).status_code == 201
    assert len(referral.events("referral.received")) == 1


def test_every_intake_is_audited_with_the_referral_and_the_patient(referral: Referral) -> None:
    message = message_for(referral)
    service_request_id = referral.post("$process-message", message).headers["location"].rsplit("/", 1)[1]
    auditor = referral.token(scope="system/AuditEvent.rs", role="auditor")
    events = referral.client.get(
        "/referral/fhir/AuditEvent",
        params={"entity": f"ServiceRequest/{service_request_id}"},
        headers={"authorization": f"Bearer {auditor}"},
    ).json()
    assert events["total"] == 1
    audit = events["entry"][0]["resource"]
    assert audit["entity"][0]["description"] == "$process-message"
    assert audit["entity"][1]["what"]["reference"].startswith("Patient/")


def test_a_second_referral_of_a_patient_held_here_names_the_same_patient_and_no_other_practice_s(
    referral: Referral,
) -> None:
    """The patient is found by NHS number (search index, then the resource by id) within the practice."""

    def subject(r: Referral) -> str:
        response = r.post("$process-message", message_for(r))
        assert response.status_code == 201, response.text
        location = response.headers["location"].removeprefix("http://testserver")
        reference: str = r.client.get(location, headers=r.headers()).json()["subject"]["reference"]
        return reference

    first, second = subject(referral), subject(referral)  # two referrals, one NHS number
    assert first == second
    other = Referral(referral.system, referral.client, referral.practice[:-1] + "X")
    assert subject(other) != first  # another practice's referral of that NHS number: its own patient
