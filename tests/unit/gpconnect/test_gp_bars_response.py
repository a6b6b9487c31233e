"""The BaRS response's instants follow the one rule for instants (``shared.core.values.format_instant``):
UTC ending ``Z``, whatever zone the service's clock is in; a naive time is refused, never guessed at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.gpconnect.fhir_mapping.bars_response import servicerequest_response

DECIDED = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "resource": {
                "resourceType": "MessageHeader",
                "id": "request-header",
                "source": {"endpoint": "https://referrer.example.org/bars"},
                "sender": {
                    "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A1"}
                },
            }
        },
        {"resource": {"resourceType": "ServiceRequest", "id": "sr-1", "status": "active"}},
        {"resource": {"resourceType": "Patient", "id": "p-1"}},
    ],
}


def _stamps(message: dict) -> set[str]:
    header = next(e["resource"] for e in message["entry"] if e["resource"]["resourceType"] == "MessageHeader")
    return {message["timestamp"], message["meta"]["lastUpdated"], header["meta"]["lastUpdated"]}


def test_instants_are_utc_with_z() -> None:
    message = servicerequest_response(
        DECIDED,
        now=datetime(2026, 3, 1, 10, 30, 5, 123456, tzinfo=UTC),
        message_id="m-1",
        service_name="pain-review",
    )
    assert message is not None
    assert _stamps(message) == {"2026-03-01T10:30:05Z"}


def test_an_offset_clock_is_written_in_utc() -> None:
    plus_one = timezone(timedelta(hours=1))
    message = servicerequest_response(
        DECIDED,
        now=datetime(2026, 6, 1, 11, 0, 0, tzinfo=plus_one),
        message_id="m-1",
        service_name="pain-review",
    )
    assert message is not None
    assert _stamps(message) == {"2026-06-01T10:00:00Z"}


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        servicerequest_response(DECIDED, now=datetime(2026, 3, 1, 10, 30), message_id="m-1", service_name="p")
