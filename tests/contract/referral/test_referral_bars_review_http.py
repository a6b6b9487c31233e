"""An integration review of intake, replayed over HTTP: a BaRS message without Bundle.timestamp is refused
(it used to switch the out-of-order check off), a message never replaces the practice's Patient, NHS
numbers are checked wherever a write carries one, one practice holds one Patient per NHS number, and
every fullUrl of a message is its own."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.support.bars import addressed_to, as_update, example, focus, fresh, header
from tests.support.referral import Referral
from tests.support.referral_records import nhs_number_for

NHS = "https://fhir.nhs.uk/Id/nhs-number"
HELD_NHS_NUMBER = "9990000042"


def message_for(referral: Referral, timestamp: str = "2024-06-15T10:00:00Z") -> dict[str, Any]:
    message = fresh(addressed_to(example(), referral.endpoint))
    message["timestamp"] = timestamp
    return message


def refusal(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    return body


def expressions(outcome: dict[str, Any]) -> set[str]:
    return {e for issue in outcome["issue"] for e in issue.get("expression", [])}


def patient_entry(message: dict[str, Any]) -> dict[str, Any]:
    url = focus(message)["subject"]["reference"]
    return next(e for e in message["entry"] if e["fullUrl"] == url)  # type: ignore[no-any-return]


def gp_patient(nhs_number: str = HELD_NHS_NUMBER, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": NHS, "value": nhs_number}],
        "name": [{"family": "Practicepatient", "given": ["Sam"]}],
        "telecom": [{"system": "phone", "value": "01632 960001", "use": "mobile"}],
        "address": [{"line": ["1 Surgery Lane"], "city": "Leeds", "postalCode": "LS1 1AA"}],
        "birthDate": "1965-02-03",
        **extra,
    }


def put(referral: Referral, resource: dict[str, Any], **headers: str) -> Any:
    return referral.client.put(
        f"/referral/fhir/Patient/{resource['id']}",
        content=orjson.dumps(resource),
        headers=referral.headers(**headers),
    )


# ---- 1. Bundle.timestamp ------------------------------------------------------------------------
def test_a_message_without_a_timestamp_is_refused_and_cannot_open_the_way_for_a_stale_one(
    referral: Referral,
) -> None:
    message = message_for(referral, "2024-06-15T10:00:00Z")
    assert referral.post("$process-message", message).status_code == 201
    urgent = as_update(message, "2024-06-15T12:00:00Z", priority="urgent")
    assert referral.post("$process-message", urgent).status_code == 200
    assert referral.post("$process-message", as_update(message, "2024-06-15T09:00:00Z")).status_code == 409

    untimed = as_update(message, "2024-06-15T13:00:00Z", priority="asap")
    del untimed["timestamp"]
    outcome = refusal(referral.post("$process-message", untimed), 400)
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "REC_BAD_REQUEST"
    assert "Bundle.timestamp" in expressions(outcome)

    stale = as_update(message, "2024-06-15T08:00:00Z", priority="routine")
    assert refusal(referral.post("$process-message", stale), 409)["issue"][0]["code"] == "conflict"
    [held] = referral.get("ServiceRequest").json()["entry"]
    assert held["resource"]["priority"] == "urgent"


def test_a_message_dated_ahead_of_the_clock_is_refused_and_cannot_lock_the_referral(
    referral: Referral,
) -> None:
    """An attacker's review (2026-12-07): an update dated 9999-12-31 was applied, and every later update or
    withdrawal was then older than it (409). A timestamp more than 5 minutes ahead of the clock is a 422."""
    message = message_for(referral, "2024-06-15T10:00:00Z")
    assert referral.post("$process-message", message).status_code == 201
    ahead = as_update(message, "9999-12-31T23:59:59Z", priority="urgent")
    outcome = refusal(referral.post("$process-message", ahead), 422)
    assert "Bundle.timestamp" in expressions(outcome)
    later = as_update(message, "2024-06-15T12:00:00Z", priority="asap")
    assert referral.post("$process-message", later).status_code == 200


def test_a_message_timestamp_of_a_leap_second_is_a_bad_request_not_a_500(referral: Referral) -> None:
    """FHIR's instant pattern allows second 60; no datetime has it (it was a 500)."""
    message = message_for(referral, "2016-12-31T23:59:60Z")
    outcome = refusal(referral.post("$process-message", message), 400)
    assert "Bundle.timestamp" in expressions(outcome)


# ---- 2. the practice's Patient ------------------------------------------------------------------
def test_a_message_about_a_patient_held_here_points_at_them_and_replaces_nothing(referral: Referral) -> None:
    created = referral.post("Patient", gp_patient())
    assert created.status_code == 201, created.text
    held = created.json()

    message = message_for(referral)
    patient_entry(message)["resource"]["identifier"] = [{"system": NHS, "value": HELD_NHS_NUMBER}]
    response = referral.post("$process-message", message)
    assert response.status_code == 201, response.text

    service_request = referral.get(f"ServiceRequest/{response.headers['location'].rsplit('/', 1)[1]}").json()
    assert service_request["subject"] == {"reference": f"Patient/{held['id']}"}
    assert referral.get("Patient").json()["total"] == 1
    kept = referral.get(f"Patient/{held['id']}").json()
    assert kept == held  # the same version: the sender's name, address and (lack of) telecom not written
    assert len(referral.get(f"Patient/{held['id']}/_history").json()["entry"]) == 1

    [received] = referral.events("referral.received")
    sent_patient = received["data"]["entry"][1]["resource"]
    assert sent_patient == held  # the event carries the Patient held, as stored
    task = referral.task_for(service_request["id"])
    assert task["for"] == {"reference": f"Patient/{held['id']}"}

    # The GP's next update, made against the version it holds, still applies.
    changed = {**held, "telecom": [*held["telecom"], {"system": "email", "value": "sam@example.org"}]}
    updated = put(referral, changed, if_match='W/"1"')
    assert updated.status_code == 200, updated.text
    assert updated.json()["meta"]["versionId"] == "2"


def test_an_update_message_does_not_replace_the_patient_its_first_message_created(referral: Referral) -> None:
    message = message_for(referral)
    referral.post("$process-message", message)
    [patient] = [e["resource"] for e in referral.get("Patient").json()["entry"]]
    update = as_update(message, "2024-06-15T12:00:00Z", priority="urgent")
    patient_entry(update)["resource"]["name"] = [{"family": "Renamed", "given": ["By", "Sender"]}]
    assert referral.post("$process-message", update).status_code == 200
    assert referral.get(f"Patient/{patient['id']}").json() == patient


# ---- 3. NHS numbers -----------------------------------------------------------------------------
BAD_NUMBERS = ["9990000019", "999 000 0018", "0000000000", "999000001", "99900000180", "abcdefghij", ""]
NEAR_MISS_SYSTEMS = [
    "https://fhir.nhs.uk/Id/nhs-numberX",
    "http://fhir.nhs.uk/Id/nhs-number",
    "https://fhir.nhs.uk/Id/NHS-Number",
    "https://fhir.nhs.uk/Id/nhs-number/",
]


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_a_patient_with_an_invalid_nhs_number_is_refused_naming_the_value(
    referral: Referral, value: str
) -> None:
    resource = gp_patient()
    resource["identifier"] = [
        {"system": "https://example.org/mrn", "value": "X1"},
        {"system": NHS, "value": value},
    ]
    outcome = refusal(referral.post("Patient", resource), 400)
    assert "Patient.identifier[1].value" in expressions(outcome)
    assert value == "" or value not in referral.get("Patient").text
    assert referral.get("Patient").json()["total"] == 0


def test_a_patient_with_two_nhs_numbers_is_refused(referral: Referral) -> None:
    """A person has one NHS number. An attacker's follow-up (2026-12-07): a Patient carrying a second, valid
    one (9476719931, then the held 9990000018) was created beside the practice's, as only the first number
    was checked for a Patient holding it; one Patient with the same number twice is still one number."""
    assert referral.post("Patient", gp_patient()).status_code == 201
    two = gp_patient("9476719931")
    two["identifier"].append({"system": NHS, "value": HELD_NHS_NUMBER})
    outcome = refusal(referral.post("Patient", two), 400)
    assert "Patient.identifier" in expressions(outcome)
    same = gp_patient("9476719931")
    same["identifier"].append({"system": NHS, "value": "9476719931"})
    assert referral.post("Patient", same).status_code == 201


@pytest.mark.parametrize("system", NEAR_MISS_SYSTEMS)
def test_a_patient_with_a_near_miss_nhs_number_system_is_refused_naming_the_system(
    referral: Referral, system: str
) -> None:
    resource = gp_patient()
    resource["identifier"] = [{"system": system, "value": HELD_NHS_NUMBER}]
    outcome = refusal(referral.post("Patient", resource), 400)
    assert "Patient.identifier[0].system" in expressions(outcome)
    assert referral.get("Patient").json()["total"] == 0


def test_an_update_to_an_invalid_nhs_number_is_refused_and_changes_nothing(referral: Referral) -> None:
    held = referral.post("Patient", gp_patient()).json()
    changed = {**held, "identifier": [{"system": NHS, "value": "9990000043"}]}
    response = put(referral, changed)
    assert "Patient.identifier[0].value" in expressions(refusal(response, 400))
    assert referral.get(f"Patient/{held['id']}").json() == held


def test_an_nhs_number_in_a_reference_is_checked_too(referral: Referral) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Pain score"},
        "subject": {"identifier": {"system": NHS, "value": "9990000019"}},
        "valueInteger": 6,
    }
    outcome = refusal(referral.post("Observation", observation), 400)
    assert "Observation.subject.identifier.value" in expressions(outcome)


@pytest.mark.parametrize("value", ["9990000019", "123"])
def test_a_message_whose_patient_has_an_invalid_nhs_number_is_refused(referral: Referral, value: str) -> None:
    message = message_for(referral)
    entry = patient_entry(message)
    entry["resource"]["identifier"] = [{"system": NHS, "value": value}]
    outcome = refusal(referral.post("$process-message", message), 400)
    index = message["entry"].index(entry)
    assert f"Bundle.entry[{index}].resource.identifier[0].value" in expressions(outcome)
    assert referral.get("ServiceRequest").json()["total"] == 0
    assert referral.events() == []


def test_a_second_patient_with_the_same_nhs_number_at_a_practice_is_a_conflict(referral: Referral) -> None:
    first = referral.post("Patient", gp_patient())
    assert first.status_code == 201
    again = referral.post("Patient", gp_patient(name=[{"family": "Copy"}]))
    outcome = refusal(again, 409)
    assert outcome["issue"][0]["code"] == "duplicate"
    assert "Patient.identifier[0].value" in expressions(outcome)
    assert HELD_NHS_NUMBER not in again.text  # the number is not echoed back
    assert referral.get("Patient").json()["total"] == 1

    # Another practice holds its own Patient of that NHS number.
    other = Referral(referral.system, referral.client, referral.practice[:-1] + "Y")
    assert other.post("Patient", gp_patient()).status_code == 201

    # An update that would give a second Patient the number is refused as well.
    second = referral.post("Patient", gp_patient(nhs_number_for(61))).json()
    taken = {**second, "identifier": [{"system": NHS, "value": HELD_NHS_NUMBER}]}
    response = put(referral, taken)
    assert refusal(response, 409)["issue"][0]["code"] == "duplicate"
    assert referral.get(f"Patient/{second['id']}").json() == second
    # Updating the Patient that holds the number is no conflict with itself.
    held = first.json()
    assert put(referral, {**held, "gender": "male"}).status_code == 200


# ---- 4. fullUrl -------------------------------------------------------------------------------------
def test_a_message_header_sharing_the_service_request_s_full_url_is_refused(referral: Referral) -> None:
    message = message_for(referral)
    message["entry"][0]["fullUrl"] = header(message)["focus"][0]["reference"]
    outcome = refusal(referral.post("$process-message", message), 400)
    assert outcome["issue"][0]["code"] == "invariant"
    assert referral.get("ServiceRequest").json()["total"] == 0
