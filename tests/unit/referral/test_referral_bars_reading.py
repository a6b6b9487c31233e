"""Reading a BaRS message: the receiver's checks, each with the REC_* error BaRS expects."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from services.referral.fhir_mapping.bars import check_version, read_message, references, resolve_references
from shared.fhir import FhirError
from tests.fixtures import BARS_EXAMPLES

OURS = "https://fhir.nhs.uk/Id/dos-service-id|2000099999"
EXAMPLE = BARS_EXAMPLES


def message() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLE / "ValidationRequest_POST.json").read_text())
    loaded["entry"][0]["resource"]["destination"][0]["endpoint"] = OURS
    return loaded


def refusal(body: Any) -> tuple[int, str, str]:
    with pytest.raises(FhirError) as caught:
        read_message(body, OURS)
    return caught.value.status, caught.value.issue_code, caught.value.bars_code


def test_the_example_reads_as_a_new_referral_with_its_focus_patient_and_entries() -> None:
    read = read_message(message(), OURS)
    assert read.message_id == "86e3371d-1c15-4862-9552-d9560f8292ba"
    assert read.reason == "new"
    assert read.entry(read.focus_url).resource["resourceType"] == "ServiceRequest"
    assert read.entry(read.patient_url).resource["resourceType"] == "Patient"
    assert len(read.entries) == 18 and read.response_id is None
    assert read.sent_at is not None and read.sent_at.isoformat() == "2021-11-26T15:00:00+00:00"


def edit(path: str, value: Any) -> dict[str, Any]:
    body = message()
    header = body["entry"][0]["resource"]
    target, *keys = path.split(".")
    node = header if target == "header" else body
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return body


def without(path: str) -> dict[str, Any]:
    body = edit(path, None)
    header = body["entry"][0]["resource"]
    del header[path.removeprefix("header.")]
    return body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"resourceType": "Patient"}, (400, "invalid", "REC_BAD_REQUEST"), id="not a Bundle"),
        pytest.param(
            edit("bundle.type", "collection"), (400, "invalid", "REC_BAD_REQUEST"), id="not a message"
        ),
        pytest.param(edit("bundle.entry", []), (400, "invalid", "REC_BAD_REQUEST"), id="no entries"),
        pytest.param(edit("bundle.id", None), (400, "invalid", "REC_BAD_REQUEST"), id="no Bundle id"),
        pytest.param(
            edit(
                "header.eventCoding",
                {"system": "https://fhir.nhs.uk/CodeSystem/message-events-bars", "code": "booking-request"},
            ),
            (422, "not-supported", "REC_UNPROCESSABLE_ENTITY"),
            id="another event",
        ),
        pytest.param(
            edit("header.destination", [{"endpoint": "http://fhir.nhs.uk/Id/dos-service-id|111111111"}]),
            (422, "business-rule", "REC_UNPROCESSABLE_ENTITY"),
            id="destination not us",
        ),
        pytest.param(without("header.reason"), (400, "required", "REC_BAD_REQUEST"), id="no reason"),
        # FHIR JSON has no nulls: the R4 schema refuses the element before the BaRS check looks for it.
        pytest.param(edit("header.reason", None), (400, "invalid", "REC_BAD_REQUEST"), id="null reason"),
        pytest.param(
            edit(
                "header.reason",
                {
                    "coding": [
                        {"system": "https://fhir.nhs.uk/CodeSystem/message-reason-bars", "code": "cancel"}
                    ]
                },
            ),
            (422, "not-supported", "REC_UNPROCESSABLE_ENTITY"),
            id="unknown reason",
        ),
        pytest.param(without("header.focus"), (400, "invariant", "REC_BAD_REQUEST"), id="no focus"),
        pytest.param(
            edit("header.focus", [{"reference": "urn:uuid:9589fb37-87a2-48d8-968f-b371429208a8"}]),
            (400, "invariant", "REC_BAD_REQUEST"),
            id="focus not a ServiceRequest",
        ),
    ],
)
def test_a_message_failing_a_receivers_check_is_refused_with_its_rec_code(
    body: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    assert refusal(body) == expected


def test_a_message_whose_first_entry_is_not_a_message_header_is_refused() -> None:
    body = message()
    body["entry"].append(body["entry"].pop(0))
    assert refusal(body) == (400, "invalid", "REC_BAD_REQUEST")


def test_entries_sharing_a_full_url_are_refused() -> None:
    body = message()
    body["entry"][3]["fullUrl"] = body["entry"][2]["fullUrl"]
    assert refusal(body)[2] == "REC_BAD_REQUEST"


def test_a_service_request_whose_subject_is_not_the_messages_patient_is_refused() -> None:
    body = message()
    body["entry"][1]["resource"]["subject"] = {"reference": "urn:uuid:2ec99e82-a0af-4b70-bd53-1869d84b2ad1"}
    assert refusal(body) == (400, "invariant", "REC_BAD_REQUEST")


@pytest.mark.parametrize(
    ("media_type", "refused"),
    [
        (None, False),
        ("application/fhir+json", False),
        ("application/fhir+json; version=1", False),
        ("application/fhir+json;version=1.6.0", False),
        ('application/fhir+json; charset=utf-8; version="1.2.0"', False),
        ("application/fhir+json; version=2.0.0", True),
        ("application/fhir+json; version=10", True),
    ],
)
def test_only_the_bars_versions_we_speak_are_accepted(media_type: str | None, refused: bool) -> None:
    if refused:
        with pytest.raises(FhirError, match="the versioning specified is not supported"):
            check_version([media_type], ["1"])
    else:
        check_version([media_type], ["1"])


def test_references_are_rewritten_to_our_ids_and_nothing_else_changes() -> None:
    body = message()
    service_request = body["entry"][1]["resource"]
    ids = {"urn:uuid:9589fb37-87a2-48d8-968f-b371429208a8": "Patient/p1"}
    resolved = resolve_references(service_request, ids)
    assert resolved["subject"] == {"reference": "Patient/p1"}
    assert resolved["requester"] == service_request["requester"]
    assert service_request["subject"]["reference"].startswith("urn:uuid:")  # the input is left alone
    assert copy.deepcopy(resolved) == resolved
    assert "Patient/p1" in set(references(resolved))
