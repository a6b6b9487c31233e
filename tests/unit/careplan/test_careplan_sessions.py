"""Sessions' pure rules: places in a session, attendance transitions, session lengths and totals."""

from __future__ import annotations

from typing import Any

import pytest

from services.careplan.domain.sessions import (
    CAPACITY_EXTENSION,
    AttendanceError,
    BookingRefused,
    attendance_status,
    capacity_of,
    delivery_channel,
    place_for,
    session_minutes,
    session_totals,
)
from services.careplan.fhir_mapping.sessions import attended_encounter, reoffer_task, session_appointment
from shared.fhir import validate_resource


def test_a_slot_without_a_capacity_is_a_one_to_one_session_with_one_place() -> None:
    assert capacity_of({"resourceType": "Slot"}) == 1


def test_a_group_slot_has_the_capacity_its_extension_gives() -> None:
    slot = {"extension": [{"url": CAPACITY_EXTENSION, "valuePositiveInt": 8}]}
    assert capacity_of(slot) == 8


@pytest.mark.parametrize("value", [0, -1, "8", True])
def test_a_capacity_that_is_not_a_positive_integer_is_refused(value: object) -> None:
    with pytest.raises(BookingRefused):
        capacity_of({"extension": [{"url": CAPACITY_EXTENSION, "valueInteger": value}]})


@pytest.mark.parametrize(
    ("capacity", "holding", "waitlist", "status"),
    [
        (1, 0, False, "booked"),  # a free one-to-one
        (8, 7, False, "booked"),  # the last place of a group of eight
        (8, 8, True, "waitlist"),  # full, and the waiting list was asked for
        (1, 1, True, "waitlist"),
    ],
)
def test_a_place_is_booked_while_one_is_free_and_the_waiting_list_only_when_asked(
    capacity: int, holding: int, waitlist: bool, status: str
) -> None:
    assert place_for(capacity=capacity, holding=holding, waitlist=waitlist) == status


def test_a_full_group_without_the_waiting_list_is_refused_saying_how_full_and_what_to_do() -> None:
    with pytest.raises(BookingRefused) as refused:
        place_for(capacity=8, holding=8, waitlist=False)
    assert "group session is full (8 of 8 places booked)" in str(refused.value)
    assert "waitlist=true" in str(refused.value)


@pytest.mark.parametrize(
    ("current", "outcome", "status"),
    [
        ("booked", "attended", "fulfilled"),
        ("arrived", "attended", "fulfilled"),
        ("booked", "did-not-attend", "noshow"),
        ("booked", "cancelled", "cancelled"),
        ("waitlist", "cancelled", "cancelled"),
    ],
)
def test_attendance_moves_a_booked_session_to_its_r4_status(current: str, outcome: str, status: str) -> None:
    assert attendance_status(current, outcome) == status


@pytest.mark.parametrize(
    ("current", "outcome"),
    [
        ("fulfilled", "did-not-attend"),  # recorded once
        ("noshow", "attended"),
        ("cancelled", "cancelled"),
        ("waitlist", "attended"),  # never booked: only cancelled
        ("booked", "late"),  # not an outcome
    ],
)
def test_attendance_is_recorded_once_and_only_on_a_booked_session(current: str, outcome: str) -> None:
    with pytest.raises(AttendanceError):
        attendance_status(current, outcome)


@pytest.mark.parametrize(
    ("encounter", "minutes"),
    [
        ({"period": {"start": "2024-03-05T18:30:00Z", "end": "2024-03-05T20:00:00Z"}}, 90),
        ({"length": {"value": 45, "code": "min"}, "period": {"start": "2024-03-05T10:00:00Z"}}, 45),
        ({"length": {"value": 1.5, "unit": "h"}}, 90),
        ({"period": {"start": "2024-03-05T10:00:00Z"}}, None),  # no end: length unknown, never guessed
        ({"period": {"start": "2024-03-05T11:00:00Z", "end": "2024-03-05T10:00:00Z"}}, None),  # backwards
    ],
)
def test_a_sessions_length_is_its_length_or_its_period_and_unknown_otherwise(
    encounter: dict[str, Any], minutes: int | None
) -> None:
    assert session_minutes(encounter) == minutes


def test_a_patients_sessions_are_counted_with_their_total_length() -> None:
    encounters = [
        {"status": "finished", "period": {"start": "2024-03-05T10:00:00Z", "end": "2024-03-05T10:45:00Z"}},
        {"status": "finished", "period": {"start": "2024-03-12T18:30:00Z", "end": "2024-03-12T20:00:00Z"}},
        {"status": "finished", "period": {"start": "2024-03-19T10:00:00Z"}},
        {"status": "cancelled", "period": {"start": "2024-03-26T10:00:00Z", "end": "2024-03-26T11:00:00Z"}},
    ]
    appointments = [
        {"status": s} for s in ("fulfilled", "fulfilled", "noshow", "cancelled", "waitlist", "booked")
    ]
    totals = session_totals("Patient/p1", encounters, appointments)
    # 45 + 90 minutes; the third has no end (unknown length), the cancelled one was not a session.
    assert (totals.attended, totals.minutes, totals.length_unknown) == (3, 135, 1)
    # booked = places held: two fulfilled, the no-show and the booked one.
    assert (totals.booked, totals.did_not_attend, totals.cancelled, totals.waitlisted) == (4, 1, 1, 1)


SLOT = {
    "resourceType": "Slot",
    "id": "s1",
    "schedule": {"reference": "Schedule/pw"},
    "status": "free",
    "start": "2024-03-05T18:30:00Z",
    "end": "2024-03-05T20:00:00Z",
    "serviceType": [{"text": "Relaxation group"}],
}


def _appointment(status: str = "booked") -> dict[str, Any]:
    return session_appointment(
        appointment_id="a1",
        slot=SLOT,
        schedule={"actor": [{"reference": "Practitioner/pw1"}]},
        patient="Patient/p1",
        plan_id="plan1",
        carers=["RelatedPerson/c1"],
        setting="remote",
        channel="Video",
        session_format="group",
        status=status,
        created="2024-03-01T09:00:00Z",
        comment=None,
    )


def test_a_booked_appointment_names_the_patient_first_then_the_worker_and_the_carer() -> None:
    appointment = _appointment()
    validate_resource(appointment, "Appointment")
    actors = [p["actor"]["reference"] for p in appointment["participant"]]
    assert actors == ["Patient/p1", "Practitioner/pw1", "RelatedPerson/c1"]
    assert appointment["slot"] == [{"reference": "Slot/s1"}]
    uk_core = next(
        e for e in appointment["extension"] if e["url"].endswith("Extension-UKCore-DeliveryChannel")
    )
    assert uk_core["valueCodeableConcept"]["coding"][0]["code"] == "Video"


def test_an_attended_remote_session_is_a_virtual_encounter_with_the_carer() -> None:
    encounter = attended_encounter({**_appointment(), "status": "fulfilled"}, encounter_id="e1")
    validate_resource(encounter, "Encounter")
    assert encounter["class"]["code"] == "VR" and encounter["subject"] == {"reference": "Patient/p1"}
    assert {"reference": "RelatedPerson/c1"} in [p["individual"] for p in encounter["participant"]]


def test_a_missed_session_asks_the_project_worker_to_re_offer_one_based_on_the_plan() -> None:
    task = reoffer_task({**_appointment(), "status": "noshow"}, task_id="t1", practice="A81001", authored="x")
    validate_resource({**task, "authoredOn": "2024-03-05T21:00:00Z"}, "Task")
    assert task["owner"] == {"reference": "Practitioner/pw1"}
    assert task["basedOn"] == [{"reference": "CarePlan/plan1"}]
    assert "2024-03-05" in task["description"]


@pytest.mark.parametrize(
    ("setting", "channel", "expected"),
    [
        ("practice", None, "In-person"),
        ("home", None, "In-person"),  # a home visit is in person
        ("home", "In-person", "In-person"),
        ("remote", "Video", "Video"),
        ("remote", "Telephone", "Telephone"),
        ("remote", None, None),  # remote, but how was not said: not assumed
    ],
)
def test_uk_cores_delivery_channel_follows_the_setting_and_is_never_assumed_for_remote(
    setting: str, channel: str | None, expected: str | None
) -> None:
    assert delivery_channel(setting, channel) == expected


@pytest.mark.parametrize(
    ("setting", "channel"),
    [("practice", "Telephone"), ("home", "Video"), ("remote", "In-person"), ("remote", "SMS")],
)
def test_a_delivery_channel_that_contradicts_the_setting_is_refused(setting: str, channel: str) -> None:
    with pytest.raises(BookingRefused):
        delivery_channel(setting, channel)
