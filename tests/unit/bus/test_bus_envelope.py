"""The CloudEvents envelope and the event type registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.contracts import (
    EVENT_TYPES,
    REFERRAL_ACCEPTED_V1,
    CloudEvent,
    InvalidEnvelope,
    event_source,
    from_json,
    new_event,
    to_json,
)

STARTING_SET = {
    "referral.received", "referral.accepted", "referral.rejected", "patient.invited", "patient.enrolled",
    "patient.discharged", "careplan.updated", "medication.list-synced", "medreview.completed",
    "taper.proposed", "taper.approved", "taper.declined", "taper.paused", "prescription.changed",
    "gp.task-requested",
}  # fmt: skip


def _accepted(**overrides: object) -> CloudEvent:
    fields: dict = {
        "source": "/painreview/referral",
        "subject": "ServiceRequest/1",
        "practice": "A81001",
        "data": {"resourceType": "ServiceRequest", "id": "1", "status": "active"},
    }
    fields.update(overrides)
    return new_event(REFERRAL_ACCEPTED_V1, **fields)


def test_the_registry_holds_the_starting_set_the_gp_decision_and_follow_up_reads_each_at_version_1() -> None:
    # gp.task-completed: the GP's decision coming back; gp.record-read-requested: a discharge follow-up
    # asking gpconnect to read the GP record on its day (issue 17); follow-up.recorded: that follow-up
    # recorded, for careplan to record the PROMs as of its day (issue 17).
    added = {"gp.task-completed", "gp.record-read-requested", "follow-up.recorded"}
    assert {t.name for t in EVENT_TYPES.values()} == STARTING_SET | added
    assert all(type_.endswith(".v1") for type_ in EVENT_TYPES)


def test_an_event_round_trips_through_structured_json() -> None:
    event = _accepted(correlationid="c-1", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    assert from_json(to_json(event)) == event


def test_the_wire_form_has_the_cloudevents_attributes_and_leaves_out_absent_extensions() -> None:
    wire = json.loads(to_json(_accepted(time=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))))
    assert wire["specversion"] == "1.0"
    assert wire["type"] == "referral.accepted.v1"
    assert wire["datacontenttype"] == "application/fhir+json"
    assert wire["time"] == "2025-01-02T03:04:05Z"
    assert "correlationid" not in wire and "traceparent" not in wire


def test_a_services_events_come_from_painreview_and_its_name() -> None:
    # The envelope's ``source`` is "URI-reference of the producer, e.g. /painreview/referral" (envelope.py).
    assert event_source("referral") == "/painreview/referral"
    assert event_source("gpconnect") == "/painreview/gpconnect"


def test_each_event_gets_a_fresh_id() -> None:
    assert _accepted().id != _accepted().id


def test_data_of_a_resource_type_the_contract_does_not_carry_is_refused() -> None:
    with pytest.raises(InvalidEnvelope, match="not Patient"):
        _accepted(data={"resourceType": "Patient"})


def test_data_without_a_resource_type_is_refused() -> None:
    with pytest.raises(InvalidEnvelope, match="data"):
        _accepted(data={"id": "x"})


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(InvalidEnvelope, match="unknown event type"):
        new_event(
            "referral.lost.v1", source="/x", subject="X/1", practice="A81001", data={"resourceType": "X"}
        )


def test_the_practice_must_look_like_an_ods_code() -> None:
    with pytest.raises(InvalidEnvelope, match="practice"):
        _accepted(practice="not an ods code")


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidEnvelope, match="time"):
        _accepted(time=datetime(2025, 1, 1))


def test_validation_errors_name_fields_but_never_echo_values() -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        from_json(b'{"type": "referral.accepted.v1", "practice": "Jane Smith NHS 9434765919"}')
    assert "Jane" not in str(caught.value) and "9434765919" not in str(caught.value)


def test_unknown_extension_attributes_survive_a_round_trip() -> None:
    raw = json.loads(to_json(_accepted()))
    raw["tenantregion"] = "north"
    assert json.loads(to_json(from_json(json.dumps(raw))))["tenantregion"] == "north"
