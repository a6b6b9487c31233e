"""An integration review of intake, at the kernel's unit of work and at the message reader: Bundle.timestamp
is required and the order check compares with the latest message that had one; every fullUrl is unique,
the MessageHeader's included; a Patient's NHS number is checked; the patient held is found the same way
whatever was updated since, and never replaced."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from services.referral.fhir_mapping.bars import read_message
from services.referral.tables import bars_message
from shared.fhir import BadRequest, Conflict, FhirError
from tests.support.referral_records import nhs_number_for, patient
from tests.support.referral_unit import PRACTICE, ReferralUnit, bars_message_bundle, referral_unit

NHS = "https://fhir.nhs.uk/Id/nhs-number"


@pytest.fixture
def referral(tmp_path: Path) -> Iterator[ReferralUnit]:
    unit = referral_unit(tmp_path)
    yield unit
    unit.kernel.engine.dispose()


def _send(referral: ReferralUnit, message: dict[str, Any]) -> str:
    response = referral.call("process-message", message)
    assert response.status_code in (200, 201), response.body
    return str(response.headers["location"].rsplit("/", 1)[1])


def _refused(body: dict[str, Any], endpoint: str) -> FhirError:
    with pytest.raises(FhirError) as caught:
        read_message(body, endpoint)
    return caught.value


def _expressions(error: FhirError) -> set[str]:
    return {e for issue in error.to_operation_outcome()["issue"] for e in issue.get("expression", [])}


# ---- 1. Bundle.timestamp ------------------------------------------------------------------------
@pytest.mark.parametrize("timestamp", [None, ""])
def test_a_message_without_a_timestamp_is_a_bad_request_naming_bundle_timestamp(
    referral: ReferralUnit, timestamp: str | None
) -> None:
    message = bars_message_bundle(referral.endpoint, patient(serial=71))
    if timestamp is None:
        del message["timestamp"]
    else:
        message["timestamp"] = timestamp
    refused = _refused(message, referral.endpoint)
    assert isinstance(refused, BadRequest) and refused.status == 400
    assert "Bundle.timestamp" in _expressions(refused)


def test_a_message_record_held_without_a_timestamp_does_not_switch_the_order_check_off(
    referral: ReferralUnit,
) -> None:
    urls: dict[str, str] = {}

    def message(reason: str, timestamp: str, **service_request: Any) -> dict[str, Any]:
        return bars_message_bundle(
            referral.endpoint,
            patient(serial=72),
            urls=urls,
            reason=reason,
            timestamp=timestamp,
            **service_request,
        )

    service_request_id = _send(referral, message("new", "2024-06-15T10:00:00+00:00"))
    _send(referral, message("update", "2024-06-15T12:00:00+00:00", priority="urgent"))
    # A record kept from before timestamps were required: no sent_at, and the newest received.
    with referral.kernel.engine.begin() as conn:
        conn.execute(
            insert(bars_message).values(
                practice=PRACTICE,
                message_id=str(uuid.uuid4()),
                reason="update",
                service_request_id=service_request_id,
                sent_at=None,
                received_at=datetime.now(UTC) + timedelta(minutes=5),
                header="{}",
            )
        )
    before = referral.snapshot()
    with pytest.raises(Conflict):
        referral.call("process-message", message("update", "2024-06-15T08:00:00+00:00", priority="routine"))
    assert referral.snapshot() == before
    assert referral.read(f"ServiceRequest/{service_request_id}")["priority"] == "urgent"


# ---- 2. the Patient held --------------------------------------------------------------------------
def test_the_patient_held_is_found_the_same_way_whatever_was_updated_since_and_left_as_it_was(
    referral: ReferralUnit,
) -> None:
    """Two Patients of one NHS number (held from before the 409 that now prevents it): intake names the
    one created first, not whichever was least recently updated, and writes neither."""
    number = nhs_number_for(73)
    with referral.unit() as uow:
        uow.create(patient(serial=73), resource_id="first")
    with referral.unit() as uow:
        uow.create(patient(serial=73), resource_id="second")
    first = referral.read("Patient/first")
    with referral.unit() as uow:  # the first is now the more recently updated
        uow.update({**first, "gender": "male"})
    held = {r["id"]: r for r in referral.resources("Patient")}

    message = bars_message_bundle(referral.endpoint, patient(serial=73, name=[{"family": "Sender"}]))
    service_request = referral.read(f"ServiceRequest/{_send(referral, message)}")
    assert service_request["subject"] == {"reference": "Patient/first"}
    assert {r["id"]: r for r in referral.resources("Patient")} == held  # no new version of either
    assert all(r["identifier"][0]["value"] == number for r in held.values())


# ---- 3. NHS numbers in a message ----------------------------------------------------------------
@pytest.mark.parametrize("value", ["9990000019", "123", "0000000000", "999 000 0018"])
def test_a_message_patient_with_an_invalid_nhs_number_is_refused_naming_the_entry(
    referral: ReferralUnit, value: str
) -> None:
    message = bars_message_bundle(
        referral.endpoint, patient(serial=74, identifier=[{"system": NHS, "value": value}])
    )
    refused = _refused(message, referral.endpoint)
    assert refused.status == 400
    assert "Bundle.entry[2].resource.identifier[0].value" in _expressions(refused)
    assert value not in str(refused.to_operation_outcome())  # the value is not echoed


# ---- 4. fullUrl ---------------------------------------------------------------------------------------
def test_a_message_header_sharing_another_entry_s_full_url_is_refused(referral: ReferralUnit) -> None:
    message = bars_message_bundle(referral.endpoint, patient(serial=75))
    message["entry"][0]["fullUrl"] = message["entry"][1]["fullUrl"]  # the ServiceRequest's
    refused = _refused(message, referral.endpoint)
    assert (refused.status, refused.issue_code) == (400, "invariant")
    assert "Bundle.entry[1].fullUrl" in _expressions(refused)
