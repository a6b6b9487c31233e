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
from shared.outbox import outbox
from tests.contract.careplan.conftest import Careplan
from tests.contract.careplan.test_careplan_contract_mdt import _enrolled, _review, _wait_for_review
from tests.contract.careplan.test_careplan_contract_sessions import _book, _schedule, _slot
from tests.contract.security.conftest import Tokens
from tests.support import eventually

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
    _enrolled(careplan, patient)
    slot = _slot(careplan, _schedule(careplan, patient), start, end, capacity=None, setting="practice")
    booked = _book(careplan, slot["id"], f"Patient/{patient}")
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
    _enrolled(careplan, "own-cancel")
    slot = _slot(
        careplan, _schedule(careplan, "own-cancel"), "2024-03-09T10:00:00Z", "2024-03-09T11:00:00Z",
        capacity=1, setting="practice",
    )  # fmt: skip
    booked = _book(careplan, slot["id"], "Patient/own-cancel")
    assert booked.status_code == 200, booked.text
    assert careplan.get(f"/Slot/{slot['id']}").json()["status"] == "busy"
    answer = _attend(careplan, booked.json()["id"], "cancelled", _staff_of_y_assigned_to_a(careplan))
    assert answer.status_code == 200, answer.text
    assert careplan.get(f"/Slot/{slot['id']}").json()["status"] == "free"


def test_staff_mdt_outcome_event_names_the_plans_practice(careplan: Careplan) -> None:
    _enrolled(careplan, "own-mdt")
    _review(careplan, "own-mdt", 1, 400, when="2024-02-01T10:00:00Z")
    _wait_for_review(careplan, "Observation/ome-own-mdt-1")
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
        _enrolled(careplan, patient)
        _review(careplan, patient, 1, 400, when="2024-02-01T10:00:00Z")
        _wait_for_review(careplan, f"Observation/ome-{patient}-1")
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
