"""Sessions over the API: one-to-one and group sessions as Schedule/Slot/Appointment, a full group refused
or waiting-listed, carers as participants, attendance (attended, did not attend, cancelled) and each
patient's sessions counted."""

from __future__ import annotations

from typing import Any

from services.careplan.domain.sessions import (
    CAPACITY_EXTENSION,
    DELIVERY_CHANNEL_EXTENSION,
)
from shared.auth import mint_local_token
from tests.support.careplan import (
    Careplan,
    add_schedule,
    add_slot,
    assert_round_trips,
    book_slot,
    enrol_patient,
)


def _attendance(careplan: Careplan, appointment: str, outcome: str, **headers: str) -> Any:
    body = {"resourceType": "Parameters", "parameter": [{"name": "outcome", "valueCode": outcome}]}
    return careplan.post(f"/Appointment/{appointment}/$record-attendance", body, **headers)


def _totals(careplan: Careplan, patient: str) -> dict[str, Any]:
    answer = careplan.get("/Appointment/$session-totals", patient=patient)
    assert answer.status_code == 200, answer.text
    [entry] = answer.json()["parameter"]
    parts: dict[str, Any] = {}
    for part in entry["part"]:
        value = next(v for k, v in part.items() if k.startswith("value"))
        parts[part["name"]] = value
    return parts


def test_a_group_beyond_capacity_is_refused_or_waitlisted_and_a_cancellation_frees_a_place(
    careplan: Careplan,
) -> None:
    for patient in ("g1", "g2", "g3"):
        enrol_patient(careplan, patient)
    schedule = add_schedule(careplan, "Relaxation group")
    # An evening group (18:30-20:00 UTC): outside the working day is allowed.
    slot = add_slot(
        careplan, schedule, "2024-03-05T18:30:00Z", "2024-03-05T20:00:00Z", capacity=2, setting="practice"
    )
    first, second = (
        book_slot(careplan, slot["id"], "Patient/g1"),
        book_slot(careplan, slot["id"], "Patient/g2"),
    )
    assert first.status_code == 200 and first.json()["status"] == "booked", first.text
    assert second.json()["status"] == "booked"
    assert careplan.get(f"/Slot/{slot['id']}").json()["status"] == "busy"

    full = book_slot(careplan, slot["id"], "Patient/g3")
    assert full.status_code == 422
    outcome = full.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "full (2 of 2 places booked)" in outcome["issue"][0]["diagnostics"]
    assert "waitlist=true" in outcome["issue"][0]["diagnostics"]

    waiting = book_slot(careplan, slot["id"], "Patient/g3", waitlist=True)
    assert waiting.status_code == 200 and waiting.json()["status"] == "waitlist"
    again = book_slot(careplan, slot["id"], "Patient/g1")
    assert again.status_code == 422 and "already booked" in again.text

    cancelled = _attendance(careplan, first.json()["id"], "cancelled")
    assert cancelled.status_code == 200, cancelled.text
    assert careplan.get(f"/Slot/{slot['id']}").json()["status"] == "free"
    promoted = book_slot(careplan, slot["id"], "Patient/g3")
    assert promoted.status_code == 200
    assert promoted.json()["id"] == waiting.json()["id"] and promoted.json()["status"] == "booked"
    roster = careplan.search("Appointment", slot=f"Slot/{slot['id']}", status="booked")
    assert sorted(a["participant"][0]["actor"]["reference"] for a in roster) == ["Patient/g2", "Patient/g3"]
    assert_round_trips(promoted.json())


def test_an_attended_home_session_with_a_carer_becomes_a_finished_encounter_and_is_counted(
    careplan: Careplan,
) -> None:
    enrol_patient(careplan, "h1")
    carer = careplan.post(
        "/RelatedPerson",
        {
            "resourceType": "RelatedPerson",
            "patient": {"reference": "Patient/h1"},
            "relationship": [{"text": "Partner"}],
            "name": [{"text": "A Partner"}],
        },
    )
    assert carer.status_code == 201, carer.text
    carer_ref = f"RelatedPerson/{carer.json()['id']}"
    schedule = add_schedule(careplan, "Project worker one-to-one")
    slot = add_slot(
        careplan, schedule, "2024-03-06T10:00:00Z", "2024-03-06T10:45:00Z", capacity=None, setting="home"
    )
    booked = book_slot(careplan, slot["id"], "Patient/h1", carers=[carer_ref])
    assert booked.status_code == 200, booked.text
    appointment = booked.json()
    assert any(p["actor"].get("reference") == carer_ref for p in appointment["participant"])
    assert appointment["extension"][0]["valueCoding"]["code"] == "home"
    channel = next(e for e in appointment["extension"] if e["url"] == DELIVERY_CHANNEL_EXTENSION)
    assert channel["valueCodeableConcept"]["coding"][0]["code"] == "In-person"
    assert book_slot(careplan, slot["id"], "Patient/h1").status_code == 422  # one-to-one: one place

    done = _attendance(careplan, appointment["id"], "attended")
    assert done.status_code == 200, done.text
    appointment_after, encounter = (e["resource"] for e in done.json()["entry"])
    assert appointment_after["status"] == "fulfilled"
    assert encounter["status"] == "finished" and encounter["class"]["code"] == "HH"
    assert encounter["appointment"] == [{"reference": f"Appointment/{appointment['id']}"}]
    assert any(p["individual"].get("reference") == carer_ref for p in encounter["participant"])
    assert careplan.get(f"/Encounter/{encounter['id']}").status_code == 200
    assert _attendance(careplan, appointment["id"], "did-not-attend").status_code == 422  # recorded once

    # A session recorded directly as an Encounter (as before) counts too; one without an end has no length.
    careplan.post(
        "/Encounter",
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"},
            "subject": {"reference": "Patient/h1"},
            "period": {"start": "2024-03-13T19:00:00Z", "end": "2024-03-13T19:30:00Z"},
        },
    )
    careplan.post(
        "/Encounter",
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/h1"},
            "period": {"start": "2024-03-20T10:00:00Z"},
        },
    )
    totals = _totals(careplan, "Patient/h1")
    # 45 min (10:00-10:45) + 30 min (19:00-19:30) = 75 min over 3 sessions, one of unknown length.
    assert totals["attended"] == 3 and totals["totalLength"]["value"] == 75
    assert totals["lengthUnknown"] == 1 and totals["booked"] == 1 and totals["didNotAttend"] == 0


def test_a_missed_session_is_a_no_show_and_the_project_worker_is_asked_to_re_offer(
    careplan: Careplan,
) -> None:
    plan = enrol_patient(careplan, "d1")
    schedule = add_schedule(careplan, "Project worker one-to-one")
    slot = add_slot(
        careplan, schedule, "2024-03-07T09:00:00Z", "2024-03-07T10:00:00Z", capacity=None, setting="remote"
    )
    appointment = book_slot(careplan, slot["id"], "Patient/d1", channel="Video").json()
    channel = next(e for e in appointment["extension"] if e["url"] == DELIVERY_CHANNEL_EXTENSION)
    assert channel["valueCodeableConcept"]["coding"][0]["code"] == "Video"  # UK Core's delivery channel
    missed = _attendance(careplan, appointment["id"], "did-not-attend", **{"if-match": 'W/"1"'})
    assert missed.status_code == 200, missed.text
    after, task = (e["resource"] for e in missed.json()["entry"])
    assert after["status"] == "noshow"
    assert task["code"]["coding"][0]["code"] == "re-offer-session"
    assert task["owner"] == {"reference": "Practitioner/pw1", "display": "Project worker"}
    assert task["basedOn"] == [{"reference": f"CarePlan/{plan['id']}"}]
    assert task["focus"] == {"reference": f"Appointment/{appointment['id']}"}
    assert careplan.get(f"/Task/{task['id']}").status_code == 200
    totals = _totals(careplan, "Patient/d1")
    assert totals["didNotAttend"] == 1 and totals["attended"] == 0


def test_only_project_workers_and_the_practice_book_and_never_another_practices_patient(
    careplan: Careplan,
) -> None:
    enrol_patient(careplan, "t1")
    schedule = add_schedule(careplan, "Project worker one-to-one")
    slot = add_slot(
        careplan, schedule, "2024-03-08T09:00:00Z", "2024-03-08T10:00:00Z", capacity=None, setting="practice"
    )
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "patient", "valueReference": {"reference": "Patient/t1"}}],
    }
    auth = careplan.system.auth
    specialist = mint_local_token(auth, practice="A81001", scope="system/*.cruds", role="specialist")
    refused = careplan.client.post(
        f"/careplan/fhir/Slot/{slot['id']}/$book",
        json=body,
        headers={"authorization": f"Bearer {specialist}", "content-type": "application/fhir+json"},
    )
    assert refused.status_code == 403
    other = mint_local_token(auth, practice="B82002", scope="system/*.cruds")
    elsewhere = careplan.client.post(
        f"/careplan/fhir/Slot/{slot['id']}/$book",
        json=body,
        headers={"authorization": f"Bearer {other}", "content-type": "application/fhir+json"},
    )
    assert elsewhere.status_code == 404  # another practice's session is not known there
    unknown = book_slot(careplan, slot["id"], "Patient/nobody")
    assert unknown.status_code == 422 and "no open pain management plan" in unknown.text
    by_phone = book_slot(careplan, slot["id"], "Patient/t1", channel="Telephone")
    assert by_phone.status_code == 422 and "at the practice is In-person" in by_phone.text
    repeat_id = {"x-request-id": "book-t1-once"}
    first = careplan.post(f"/Slot/{slot['id']}/$book", body, **repeat_id)
    assert first.status_code == 200
    assert careplan.post(f"/Slot/{slot['id']}/$book", body, **repeat_id).status_code == 409
    # A project worker of the practice books too (the patient is enrolled there).
    evening = add_slot(
        careplan, schedule, "2024-03-08T19:00:00Z", "2024-03-08T20:00:00Z", capacity=None, setting="practice"
    )
    worker = mint_local_token(auth, practice="A81001", scope="system/*.cruds", role="project-worker")
    booked = careplan.client.post(
        f"/careplan/fhir/Slot/{evening['id']}/$book",
        json=body,
        headers={"authorization": f"Bearer {worker}", "content-type": "application/fhir+json"},
    )
    assert booked.status_code == 200 and booked.json()["status"] == "booked", booked.text


def test_a_slot_with_a_capacity_that_is_not_a_positive_integer_is_refused_when_written(
    careplan: Careplan,
) -> None:
    schedule = add_schedule(careplan, "Relaxation group")
    slot = {
        "resourceType": "Slot",
        "schedule": {"reference": f"Schedule/{schedule}"},
        "status": "free",
        "start": "2024-03-05T18:30:00Z",
        "end": "2024-03-05T20:00:00Z",
        "extension": [{"url": CAPACITY_EXTENSION, "valueInteger": 0}],
    }
    refused = careplan.post("/Slot", slot)
    assert refused.status_code == 422 and "positive integer" in refused.text


def test_the_evaluation_counts_project_worker_time_once_per_session_and_never_guesses_a_length(
    careplan: Careplan,
) -> None:
    """Staff time in May 2025 (no other test of this module has a session then), worked by hand:
    a relaxation group 14:00-15:30 (90 min) attended by s1 and s2, missed by s3: one session, 90 min;
    a one-to-one 18:00-18:45 (45 min) attended by s1; an Encounter recorded with no end: a session of
    unknown length, counted and not timed; a one-to-one cancelled: no time. 3 held, 2 timed, 135 min."""
    for patient in ("s1", "s2", "s3"):
        enrol_patient(careplan, patient)
    group = add_slot(
        careplan,
        add_schedule(careplan, "Relaxation group"),
        "2025-05-07T14:00:00Z",
        "2025-05-07T15:30:00Z",
        capacity=3,
        setting="practice",
    )
    one_to_one = add_schedule(careplan, "Project worker one-to-one")
    evening = add_slot(
        careplan,
        one_to_one,
        "2025-05-08T18:00:00Z",
        "2025-05-08T18:45:00Z",
        capacity=None,
        setting="practice",
    )
    cancelled = add_slot(
        careplan, one_to_one, "2025-05-09T10:00:00Z", "2025-05-09T11:00:00Z", capacity=None, setting="home"
    )
    outcomes = [
        (group, "s1", "attended"),
        (group, "s2", "attended"),
        (group, "s3", "did-not-attend"),
        (evening, "s1", "attended"),
        (cancelled, "s2", "cancelled"),
    ]
    for slot, patient, outcome in outcomes:
        booked = book_slot(careplan, slot["id"], f"Patient/{patient}")
        assert booked.status_code == 200, booked.text
        assert _attendance(careplan, booked.json()["id"], outcome).status_code == 200
    unknown = careplan.post(
        "/Encounter",
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/s3"},
            "period": {"start": "2025-05-20T10:00:00Z"},
        },
    )
    assert unknown.status_code == 201, unknown.text

    answer = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure", periodStart="2025-05-01", periodEnd="2025-05-31"
    )
    assert answer.status_code == 200, answer.text
    staff = next(g for g in answer.json()["group"] if g["code"]["coding"][0]["code"] == "staff-time")
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in staff["population"]}
    assert counts == {"sessions-held": 3, "sessions-timed": 2, "session-length-unknown": 1}
    assert staff["measureScore"] == {
        "value": 135.0,
        "unit": "min",
        "system": "http://unitsofmeasure.org",
        "code": "min",
    }
    [practice] = staff["stratifier"][0]["stratum"]
    assert practice["value"]["text"] == "A81001" and practice["measureScore"]["value"] == 135.0
    # April 2025 held no session: nothing, and no stratum
    april = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure", periodStart="2025-04-01", periodEnd="2025-04-30"
    ).json()
    none = next(g for g in april["group"] if g["code"]["coding"][0]["code"] == "staff-time")
    assert none["measureScore"]["value"] == 0.0 and "stratifier" not in none
