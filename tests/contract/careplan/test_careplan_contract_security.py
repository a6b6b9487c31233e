"""Security findings on the careplan operations (attacker review of 5 Dec 2026), one test each.

* A staff member whose own practice is Y09999 and who is assigned to A81001 acts for A: what they record
  on A's patient is filed under A (A's GP system reads it, Y's does not) and the plan event names A.
* The MDT agenda never shows a service staff member a patient who is no longer enrolled.
* ``Slot/$book`` refuses a flood of ``carer`` parts and an over-long ``comment``.
* ``$evaluate-measure`` and ``$mdt-agenda`` refuse out-of-range dates with a 400, never a 500.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from shared.auth.issuer import IssuerKeys
from shared.contracts import PATIENT_DISCHARGED_V1
from shared.fhir import resource_table
from shared.outbox import outbox
from tests.support import eventually
from tests.support.careplan import (
    Careplan,
    add_schedule,
    add_slot,
    book_slot,
    enrol_patient,
    publish_review,
    wait_for_review,
)
from tests.support.tokens import Tokens

A, Y = "A81001", "Y09999"
FHIR = "/careplan/fhir"


def _headers(careplan: Careplan, practice: str, role: str = "gp-system", **more: Any) -> dict[str, str]:
    s = careplan.system
    tokens = Tokens(s, IssuerKeys(s.auth.issuer_key_path, algorithm=s.auth.signing_algorithm))
    token = tokens.sign(tokens.claims(practice, role=role, **more))
    return {"authorization": f"Bearer {token}", "content-type": "application/fhir+json"}


def _staff_of_y_assigned_to_a(careplan: Careplan) -> dict[str, str]:
    return _headers(careplan, Y, "project-worker", practices=[A])


def _session(careplan: Careplan, patient: str, start: str, end: str) -> str:
    enrol_patient(careplan, patient)
    slot = add_slot(careplan, add_schedule(careplan, patient), start, end, capacity=None, setting="practice")
    booked = book_slot(careplan, slot["id"], f"Patient/{patient}")
    assert booked.status_code == 200, booked.text
    return str(booked.json()["id"])


def _attend(careplan: Careplan, appointment: str, outcome: str, headers: dict[str, str]) -> Any:
    body = {"resourceType": "Parameters", "parameter": [{"name": "outcome", "valueCode": outcome}]}
    return careplan.client.post(
        f"{FHIR}/Appointment/{appointment}/$record-attendance", json=body, headers=headers
    )


def _readers(careplan: Careplan, reference: str) -> tuple[int, int]:
    """(A's GP system, Y's GP system) status reading ``reference``."""
    a = careplan.client.get(f"{FHIR}/{reference}", headers=_headers(careplan, A)).status_code
    y = careplan.client.get(f"{FHIR}/{reference}", headers=_headers(careplan, Y)).status_code
    return a, y


# ---- 1. writes by assigned staff are filed under the owning practice -------------------------------
@pytest.mark.parametrize(("outcome", "made"), [("attended", "Encounter"), ("did-not-attend", "Task")])
def test_staff_attendance_is_filed_under_the_appointments_practice(
    careplan: Careplan, outcome: str, made: str
) -> None:
    appointment = _session(careplan, f"own-{outcome}", "2024-03-08T10:00:00Z", "2024-03-08T11:00:00Z")
    answer = _attend(careplan, appointment, outcome, _staff_of_y_assigned_to_a(careplan))
    assert answer.status_code == 200, answer.text
    created = next(e["resource"] for e in answer.json()["entry"] if e["resource"]["resourceType"] == made)
    assert _readers(careplan, f"{made}/{created['id']}") == (200, 404)
    assert _readers(careplan, f"Appointment/{appointment}") == (200, 404)


def test_staff_cancellation_frees_the_place_in_the_owning_practices_slot(careplan: Careplan) -> None:
    enrol_patient(careplan, "own-cancel")
    slot = add_slot(
        careplan, add_schedule(careplan, "own-cancel"), "2024-03-09T10:00:00Z", "2024-03-09T11:00:00Z",
        capacity=1, setting="practice",
    )  # fmt: skip
    booked = book_slot(careplan, slot["id"], "Patient/own-cancel")
    assert booked.status_code == 200, booked.text
    assert careplan.get(f"/Slot/{slot['id']}").json()["status"] == "busy"
    answer = _attend(careplan, booked.json()["id"], "cancelled", _staff_of_y_assigned_to_a(careplan))
    assert answer.status_code == 200, answer.text
    assert careplan.get(f"/Slot/{slot['id']}").json()["status"] == "free"


def test_staff_mdt_outcome_event_names_the_plans_practice(careplan: Careplan) -> None:
    enrol_patient(careplan, "own-mdt")
    publish_review(careplan, "own-mdt", 1, 400, when="2024-02-01T10:00:00Z")
    wait_for_review(careplan, "Observation/ome-own-mdt-1")
    body = {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2024-04"}]}
    built = careplan.post("/Appointment/$mdt-agenda", body)
    assert built.status_code == 200, built.text
    agenda = built.json()["entry"][1]["resource"]
    outcome = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "valueReference": {"reference": "Patient/own-mdt"}},
            {"name": "outcome", "valueCode": "continue-plan"},
        ],
    }
    answer = careplan.client.post(
        f"{FHIR}/List/{agenda['id']}/$record-mdt-outcome",
        json=outcome,
        headers=_staff_of_y_assigned_to_a(careplan),
    )
    assert answer.status_code == 200, answer.text
    plan = answer.json()["entry"][1]["resource"]
    with careplan.system.services["careplan"].engine.connect() as conn:
        practices = conn.execute(
            sa.select(outbox.c.practice).where(
                outbox.c.type.like("%careplan.updated%"), outbox.c.subject == f"CarePlan/{plan['id']}"
            )
        ).all()
    assert practices and {row.practice for row in practices} == {A}
    assert _readers(careplan, f"CarePlan/{plan['id']}") == (200, 404)


# ---- 2. the MDT agenda never shows staff a patient who is no longer enrolled ---------------------
MARCH = {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2024-03"}]}


def _discharge(careplan: Careplan, patient: str) -> None:
    finished = {
        "resourceType": "EpisodeOfCare",
        "id": f"ep-{patient}",
        "status": "finished",
        "patient": {"reference": f"Patient/{patient}"},
        "period": {"start": "2024-01-10", "end": "2024-02-20"},
    }
    careplan.publish("referral", PATIENT_DISCHARGED_V1, f"EpisodeOfCare/ep-{patient}", finished)

    def closed() -> Any:
        plan = next(iter(careplan.search("CarePlan", patient=f"Patient/{patient}")), None)
        return plan if plan and plan["status"] not in ("draft", "active") else None

    eventually(closed)


def _named(agenda: dict[str, Any]) -> set[str]:
    return {e["item"]["reference"] for e in agenda.get("entry") or ()}


def test_a_discharged_patient_leaves_the_mdt_agenda_and_staff_never_see_them(careplan: Careplan) -> None:
    for patient in ("gone1", "stays1"):
        enrol_patient(careplan, patient)
        publish_review(careplan, patient, 1, 400, when="2024-02-01T10:00:00Z")
        wait_for_review(careplan, f"Observation/ome-{patient}-1")
    built = careplan.post("/Appointment/$mdt-agenda", MARCH)
    assert built.status_code == 200, built.text
    agenda = built.json()["entry"][1]["resource"]
    assert {"Patient/gone1", "Patient/stays1"} <= _named(agenda)
    _discharge(careplan, "gone1")
    staff = _headers(careplan, A, "project-worker")
    # A staff member asking for the agenda is not shown the discharged patient ...
    asked = careplan.client.post(f"{FHIR}/Appointment/$mdt-agenda", json=MARCH, headers=staff)
    assert asked.status_code == 200, asked.text
    seen = asked.json()["entry"][1]["resource"]
    assert "Patient/gone1" not in _named(seen) and "Patient/stays1" in _named(seen)
    # ... and the rebuilt agenda no longer holds their undecided item, for anyone.
    stored = careplan.get(f"/List/{agenda['id']}").json()
    assert "Patient/gone1" not in _named(stored) and "Patient/stays1" in _named(stored)
    read = careplan.client.get(f"{FHIR}/List/{agenda['id']}", headers=staff)
    assert read.status_code == 200 and "Patient/gone1" not in read.text


# ---- 3. a plain create or a GP summary by assigned staff goes to the owning practice ---------------
def test_staff_create_on_an_assigned_practices_patient_is_filed_under_that_practice(
    careplan: Careplan,
) -> None:
    enrol_patient(careplan, "own-goal")
    goal = {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "description": {"text": "Walk to the shop"},
        "subject": {"reference": "Patient/own-goal"},
    }
    made = careplan.client.post(f"{FHIR}/Goal", json=goal, headers=_staff_of_y_assigned_to_a(careplan))
    assert made.status_code == 201, made.text
    assert _readers(careplan, f"Goal/{made.json()['id']}") == (200, 404)
    # Its Provenance goes with it: filed under A, where A's GP system sees who wrote the goal.
    assert _provenance_practices(careplan, f"Goal/{made.json()['id']}") == [A]


def _provenance_practices(careplan: Careplan, target: str) -> list[str]:
    """The practices the Provenances naming ``target`` are filed under, oldest first."""
    with careplan.system.services["careplan"].engine.connect() as conn:
        rows = conn.execute(
            sa.select(resource_table.c.practice, resource_table.c.content)
            .where(resource_table.c.resource_type == "Provenance", resource_table.c.content.contains(target))
            .order_by(resource_table.c.last_updated)
        ).all()
    return [str(row.practice) for row in rows]


def test_staff_apply_of_a_new_plan_files_the_plan_and_its_provenance_under_the_patients_practice(
    careplan: Careplan,
) -> None:
    old = enrol_patient(careplan, "own-apply")
    # A's GP system closes the plan, so the next $apply starts a new one.
    revoked = careplan.put(f"/CarePlan/{old['id']}", {**old, "status": "revoked"})
    assert revoked.status_code == 200, revoked.text
    applied = careplan.client.post(
        f"{FHIR}/PlanDefinition/pain-management-core/$apply?subject=Patient/own-apply",
        json={"resourceType": "Parameters"},
        headers=_staff_of_y_assigned_to_a(careplan),
    )
    assert applied.status_code == 200, applied.text
    plan = applied.json()
    assert plan["id"] != old["id"]
    assert _readers(careplan, f"CarePlan/{plan['id']}") == (200, 404)
    assert _provenance_practices(careplan, f"CarePlan/{plan['id']}") == [A]


def test_staff_update_of_a_plan_files_its_provenance_under_the_plans_practice(careplan: Careplan) -> None:
    plan = enrol_patient(careplan, "own-activate")
    agreed = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patientAgreement", "valueDateTime": "2024-02-01"},
            {"name": "projectWorkerAgreement", "valueDateTime": "2024-02-01"},
        ],
    }
    activated = careplan.client.post(
        f"{FHIR}/CarePlan/{plan['id']}/$activate", json=agreed, headers=_staff_of_y_assigned_to_a(careplan)
    )
    assert activated.status_code == 200, activated.text
    # Every Provenance of the plan (the service's own on enrolment, staff's on activation) is A's: A's GP
    # system sees who activated its patient's plan and Y's GP system never learns of it.
    assert set(_provenance_practices(careplan, f"CarePlan/{plan['id']}")) == {A}


def test_staff_gp_summary_goes_to_the_gp_of_the_plans_practice(careplan: Careplan) -> None:
    plan = enrol_patient(careplan, "own-summary")
    body = {"resourceType": "Parameters", "parameter": [{"name": "note", "valueString": "Seen today"}]}
    sent = careplan.client.post(
        f"{FHIR}/CarePlan/{plan['id']}/$gp-summary", json=body, headers=_staff_of_y_assigned_to_a(careplan)
    )
    assert sent.status_code == 200, sent.text
    task = sent.json()
    assert task["resourceType"] == "Task", task
    assert _readers(careplan, f"Task/{task['id']}") == (200, 404)
    with careplan.system.services["careplan"].engine.connect() as conn:
        practices = conn.execute(
            sa.select(outbox.c.practice).where(outbox.c.subject == f"Task/{task['id']}")
        ).all()
    assert practices and {row.practice for row in practices} == {A}


# ---- 4. a booking is bounded: carers (a repeat counts once) and the comment ------------------------
def test_book_refuses_a_flood_of_carers_and_counts_a_repeat_once(careplan: Careplan) -> None:
    enrol_patient(careplan, "carers1")
    slot = add_slot(
        careplan, add_schedule(careplan, "carers1"), "2024-03-10T10:00:00Z", "2024-03-10T11:00:00Z",
        capacity=None, setting="practice",
    )  # fmt: skip
    flood = [f"RelatedPerson/c{n}" for n in range(5)]  # five distinct carers: one more than four
    refused = book_slot(careplan, slot["id"], "Patient/carers1", carers=flood)
    assert refused.status_code == 400, refused.text
    assert "at most 4 carers" in refused.text
    # Twenty repeats of one carer are one carer: they reach the check that the carer is the patient's.
    repeated = book_slot(careplan, slot["id"], "Patient/carers1", carers=["RelatedPerson/c0"] * 20)
    assert repeated.status_code == 422 and "RelatedPerson/c0" in repeated.text, repeated.text


def test_book_refuses_an_over_long_comment(careplan: Careplan) -> None:
    enrol_patient(careplan, "comment1")
    slot = add_slot(
        careplan, add_schedule(careplan, "comment1"), "2024-03-11T10:00:00Z", "2024-03-11T11:00:00Z",
        capacity=None, setting="practice",
    )  # fmt: skip
    parameters = [
        {"name": "patient", "valueReference": {"reference": "Patient/comment1"}},
        {"name": "comment", "valueString": "x" * 2001},
    ]
    body = {"resourceType": "Parameters", "parameter": parameters}
    refused = careplan.post(f"/Slot/{slot['id']}/$book", body)
    assert refused.status_code == 400 and "2000" in refused.text.replace(",", ""), refused.text
    parameters[1]["valueString"] = "x" * 2000  # the cap itself is accepted
    assert careplan.post(f"/Slot/{slot['id']}/$book", body).status_code == 200


# ---- 5. out-of-range dates are a 400 naming the range, never a 500 ---------------------------------
@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-01-01", "9999-12-31"),
        ("0001-01-01", "2024-12-31"),
        ("2024-01-01", "9999-12-31T23:00:00-05:00"),  # the offset carries it past year 9999
        ("0001-01-01T01:00:00+05:00", "2024-12-31"),
    ],
)
def test_evaluate_measure_refuses_years_out_of_range(careplan: Careplan, start: str, end: str) -> None:
    answer = careplan.client.get(
        f"{FHIR}/Measure/service-evaluation/$evaluate-measure",
        params={"periodStart": start, "periodEnd": end},
        headers=_headers(careplan, A),
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "month", ["9999-12", "0001-01", "1899-12", "3000-01", "٢٠٢٤-03", "2024-13", "2024-3"]
)
@pytest.mark.parametrize("operation", ["$mdt-agenda", "$propose-mdt-review"])
def test_mdt_months_out_of_range_are_refused(careplan: Careplan, operation: str, month: str) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": month}]}
    answer = careplan.post(f"/Appointment/{operation}", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
