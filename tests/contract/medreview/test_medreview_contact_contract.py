"""Contact during a reduction and follow-up after discharge, over the embedded system with a movable clock
(``MEDREVIEW_CLOCK_FILE``): a concern reaches the practice as a prioritised Task and may pause the plan or go
back a step; one not answered in time is escalated when the clock passes its answer time; a discharge
schedules dated follow-ups that, once due, compare the OME with the OME at discharge."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from painreview.embedded import create_embedded_system
from services.gpconnect.tables import delivery
from services.medreview.domain.concerns import ConcernPolicy
from services.medreview.repository import MedreviewRepository
from services.medreview.workflow.concern import escalate_overdue
from shared.auth import mint_local_token
from shared.contracts import GP_TASK_COMPLETED_V1, PATIENT_DISCHARGED_V1, PATIENT_ENROLLED_V1
from shared.fhir import UnitOfWork, as_service, validate_resource
from shared.web.clock import write_clock
from tests.support import eventually
from tests.support.medreview import PRACTICE, Medreview, medicine, new_patient, synced

START = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
PARAMS = {"resourceType": "Parameters"}
MORPHINE_60_MR = "Morphine sulfate 60mg modified-release tablets"


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Medreview, Path]]:
    var = tmp_path_factory.mktemp("contact-var")
    clock = var / "clock"
    write_clock(clock, START)
    saved = os.environ.get("MEDREVIEW_CLOCK_FILE")
    os.environ["MEDREVIEW_CLOCK_FILE"] = str(clock)
    try:
        system = create_embedded_system(var, rate_per_minute=1_000_000, rate_burst=100_000)
    finally:
        if saved is None:
            os.environ.pop("MEDREVIEW_CLOCK_FILE")
        else:
            os.environ["MEDREVIEW_CLOCK_FILE"] = saved
    token = mint_local_token(system.auth, practice=PRACTICE, scope="system/*.cruds")
    with TestClient(system.app) as client:
        yield Medreview(system, client, token), clock
    for parts in system.services.values():
        parts.engine.dispose()


def move(clock: Path, to: datetime) -> None:
    write_clock(clock, to)


def run_due(medreview: Medreview) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = medreview.system.services["medreview"].app.state.due_work.run_once()
    return found


def part(parameters: dict[str, Any], name: str) -> Any:
    found = next(p for p in parameters["parameter"] if p["name"] == name)
    return next(v for k, v in found.items() if k != "name")


def active_plan(medreview: Medreview) -> tuple[str, dict[str, Any]]:
    """A patient on morphine 60 mg MR twice a day whose first step the GP approved (plan active)."""
    patient = new_patient()
    synced(medreview, patient, medicine(patient, f"{patient}-mor", MORPHINE_60_MR, "one twice a day"))
    body = {**PARAMS, "parameter": [{"name": "startDate", "valueDate": "2026-04-06"}]}
    careplan = medreview.post(f"/fhir/Patient/{patient}/$propose-taper", body).json()
    task = medreview.get("/fhir/Task", patient=f"Patient/{patient}", code="approve-taper-step").json()
    approval = task["entry"][0]["resource"]
    answer = {**approval, "status": "completed", "businessStatus": {"text": "approved"}}
    medreview.publish("gpconnect", GP_TASK_COMPLETED_V1, answer, f"Task/{approval['id']}")
    plan = eventually(
        lambda: (p := medreview.get(f"/fhir/CarePlan/{careplan['id']}").json())["status"] == "active" and p
    )
    return patient, plan


def concern(medreview: Medreview, careplan: dict[str, Any], kind: str, severity: int, **extra: Any) -> Any:
    parameters = [
        {"name": "kind", "valueCode": kind},
        {"name": "severity", "valueInteger": severity},
        {"name": "description", "valueString": "I have not slept and feel shaky"},
        *({"name": k, **v} for k, v in extra.items()),
    ]
    return medreview.post(
        f"/fhir/CarePlan/{careplan['id']}/$raise-concern", {**PARAMS, "parameter": parameters}
    )


def test_a_severe_withdrawal_concern_reaches_the_practice_as_an_asap_task_and_pauses_the_plan(
    clocked: tuple[Medreview, Path],
) -> None:
    medreview, clock = clocked
    move(clock, START)
    _, plan = active_plan(medreview)
    response = concern(medreview, plan, "withdrawal", 8, raisedBy={"valueCode": "project-worker"})
    assert response.status_code == 200, response.text
    answer = response.json()
    task = part(answer, "task")
    validate_resource(task, "Task")
    assert task["priority"] == "asap" and part(answer, "priority") == "asap"
    # raised at 09:00 (the clock, to the second it ran on): answered within 4 hours (MEDREVIEW default)
    raised = datetime.fromisoformat(task["authoredOn"].replace("Z", "+00:00"))
    assert task["restriction"]["period"]["end"] == (raised + timedelta(hours=4)).isoformat().replace(
        "+00:00", "Z"
    )
    assert part(answer, "paused") is True
    stored = medreview.get(f"/fhir/CarePlan/{plan['id']}").json()
    assert stored["status"] == "on-hold"
    assert {"reference": f"Task/{task['id']}"} in stored["supportingInfo"]
    assert medreview.events("taper.paused.v1", f"CarePlan/{plan['id']}")
    [sent] = medreview.events("gp.task-requested.v1", f"Task/{task['id']}")
    assert sent["data"]["priority"] == "asap"


def test_a_mild_mood_concern_goes_to_the_practice_without_pausing(clocked: tuple[Medreview, Path]) -> None:
    medreview, clock = clocked
    move(clock, START)
    _, plan = active_plan(medreview)
    answer = concern(medreview, plan, "mood", 6).json()  # below the default severity of 7
    assert part(answer, "paused") is False and part(answer, "priority") == "asap"
    assert medreview.get(f"/fhir/CarePlan/{plan['id']}").json()["status"] == "active"
    assert not medreview.events("taper.paused.v1", f"CarePlan/{plan['id']}")


def test_a_pain_flare_is_urgent_offers_a_step_back_and_can_go_back_a_step(
    clocked: tuple[Medreview, Path],
) -> None:
    medreview, clock = clocked
    move(clock, START)
    _, plan = active_plan(medreview)
    offered = concern(medreview, plan, "pain-flare", 9).json()
    assert part(offered, "priority") == "urgent" and part(offered, "paused") is False
    assert part(offered, "stepBackOffered") is True and part(offered, "steppedBack") is False
    back = concern(medreview, plan, "pain-flare", 9, stepBack={"valueBoolean": True})
    assert back.status_code == 200, back.text
    assert part(back.json(), "steppedBack") is True
    stored = medreview.get(f"/fhir/CarePlan/{plan['id']}").json()
    assert stored["status"] == "on-hold"
    reviews = medreview.get("/fhir/Task", patient=stored["subject"]["reference"], code="review").json()
    assert any("go back" in e["resource"]["description"] for e in reviews["entry"])


def test_a_concern_needs_a_running_taper_and_well_formed_parameters(clocked: tuple[Medreview, Path]) -> None:
    medreview, clock = clocked
    move(clock, START)
    patient = new_patient()
    synced(medreview, patient, medicine(patient, f"{patient}-mor", MORPHINE_60_MR, "one twice a day"))
    body = {**PARAMS, "parameter": [{"name": "startDate", "valueDate": "2026-04-06"}]}
    draft = medreview.post(f"/fhir/Patient/{patient}/$propose-taper", body).json()
    refused = concern(medreview, draft, "withdrawal", 9)
    assert refused.status_code == 409 and refused.json()["resourceType"] == "OperationOutcome"
    assert concern(medreview, draft, "nausea", 5).status_code == 400
    assert concern(medreview, draft, "mood", 11).status_code == 400
    assert concern(medreview, draft, "mood", 5, raisedBy={"valueCode": "neighbour"}).status_code == 400
    assert concern(medreview, draft, "mood", 5, stepBack={"valueBoolean": True}).status_code in (409, 422)
    missing = medreview.post(
        f"/fhir/CarePlan/{draft['id']}/$raise-concern",
        {
            **PARAMS,
            "parameter": [{"name": "kind", "valueCode": "mood"}, {"name": "severity", "valueInteger": 2}],
        },
    )
    assert missing.status_code == 400


def test_an_unanswered_concern_is_escalated_once_when_the_clock_passes_its_answer_time(
    clocked: tuple[Medreview, Path],
) -> None:
    medreview, clock = clocked
    move(clock, START)
    _, plan = active_plan(medreview)
    task = part(concern(medreview, plan, "mood", 4).json(), "task")
    move(clock, START + timedelta(hours=3, minutes=50))
    assert not [t for t in run_due(medreview) if t["focus"]["reference"] == f"Task/{task['id']}"]
    move(clock, START + timedelta(hours=4, minutes=1))
    [escalation] = [t for t in run_due(medreview) if t["focus"]["reference"] == f"Task/{task['id']}"]
    validate_resource(escalation, "Task")
    assert escalation["priority"] == "stat"  # asap, one level up
    assert escalation["code"]["coding"][0]["code"] == "concern-escalation"
    stored = medreview.get(f"/fhir/Task/{task['id']}").json()
    assert stored["priority"] == "stat" and stored["businessStatus"]["coding"][0]["code"] == "escalated"
    assert medreview.events("gp.task-requested.v1", f"Task/{escalation['id']}")
    move(clock, START + timedelta(days=2))
    assert not [t for t in run_due(medreview) if t["focus"]["reference"] == f"Task/{task['id']}"]
    # the practice answers the escalation: the concern and its escalation are both completed
    answered = medreview.post(
        f"/fhir/Task/{escalation['id']}/$answer-concern",
        {**PARAMS, "parameter": [{"name": "note", "valueString": "GP phoned the patient"}]},
    )
    assert answered.status_code == 200, answered.text
    assert medreview.get(f"/fhir/Task/{task['id']}").json()["status"] == "completed"
    assert medreview.get(f"/fhir/Task/{escalation['id']}").json()["status"] == "completed"


def test_a_concern_answered_in_time_is_not_escalated_and_only_a_prescriber_answers(
    clocked: tuple[Medreview, Path],
) -> None:
    medreview, clock = clocked
    move(clock, START)
    _, plan = active_plan(medreview)
    first = part(concern(medreview, plan, "pain-flare", 5).json(), "task")
    second = part(concern(medreview, plan, "mood", 3).json(), "task")
    worker = mint_local_token(
        medreview.system.auth, practice=PRACTICE, scope="system/*.cruds", role="project-worker"
    )
    note = {**PARAMS, "parameter": [{"name": "note", "valueString": "Called back"}]}
    assert medreview.post(f"/fhir/Task/{first['id']}/$answer-concern", note, token=worker).status_code == 403
    assert medreview.post(f"/fhir/Task/{first['id']}/$answer-concern", PARAMS).status_code == 400
    assert medreview.post(f"/fhir/Task/{first['id']}/$answer-concern", note).status_code == 200
    # the other is answered in the GP system: gp.task-completed from gpconnect
    done = {**second, "status": "completed", "statusReason": {"text": "Seen by the GP"}}
    medreview.publish("gpconnect", GP_TASK_COMPLETED_V1, done, f"Task/{second['id']}")
    eventually(lambda: medreview.get(f"/fhir/Task/{second['id']}").json()["status"] == "completed")
    move(clock, START + timedelta(days=3))
    mine = {f"Task/{first['id']}", f"Task/{second['id']}"}
    assert not [t for t in run_due(medreview) if t["focus"]["reference"] in mine]


def _discharged(medreview: Medreview, patient: str, end: str) -> None:
    episode = {
        "resourceType": "EpisodeOfCare",
        "id": f"{patient}-episode",
        "status": "finished",
        "patient": {"reference": f"Patient/{patient}"},
        "period": {"start": "2025-05-01", "end": end},
    }
    medreview.publish("referral", PATIENT_DISCHARGED_V1, episode, f"EpisodeOfCare/{patient}-episode")


def _enrolled(medreview: Medreview, patient: str) -> None:
    """gpconnect learns the patient's NHS number (9990000026, a test-range number) from the enrolment."""
    person = {
        "resourceType": "Patient",
        "id": patient,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000026"}],
    }
    episode = {
        "resourceType": "EpisodeOfCare",
        "id": f"{patient}-episode",
        "status": "active",
        "patient": {"reference": f"Patient/{patient}"},
        "period": {"start": "2025-05-01"},
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": episode}, {"resource": person}],
    }
    medreview.publish("referral", PATIENT_ENROLLED_V1, bundle, f"EpisodeOfCare/{patient}-episode")


def _follow_ups(medreview: Medreview, patient: str) -> list[dict[str, Any]]:
    found = medreview.get("/fhir/Task", patient=f"Patient/{patient}", code="follow-up-review").json()
    return sorted(
        (e["resource"] for e in found.get("entry", [])), key=lambda t: t["executionPeriod"]["start"]
    )


def _dose_held(medreview: Medreview, patient: str) -> list[dict[str, Any]]:
    found = medreview.get(
        "/fhir/Observation",
        patient=f"Patient/{patient}",
        code="https://pain-review.example.org/fhir/CodeSystem/medreview-observation|dose-held-after-discharge",
    ).json()
    return [e["resource"] for e in found.get("entry", [])]


def test_a_discharge_schedules_dated_follow_ups_that_record_whether_the_dose_held(
    clocked: tuple[Medreview, Path],
) -> None:
    medreview, clock = clocked
    move(clock, datetime(2026, 5, 15, 12, 0, tzinfo=UTC))
    patient = new_patient()
    _enrolled(medreview, patient)
    # morphine 60 mg MR twice a day: 120 mg oral morphine a day (oral morphine's factor is 1; 60 x 2)
    synced(medreview, patient, medicine(patient, f"{patient}-mor", MORPHINE_60_MR, "one twice a day"))
    _discharged(medreview, patient, "2026-05-15")
    three, twelve = eventually(lambda: len(f := _follow_ups(medreview, patient)) == 2 and f)
    for task in (three, twelve):
        validate_resource(task, "Task")
    assert (three["executionPeriod"]["start"], twelve["executionPeriod"]["start"]) == (
        "2026-08-15",
        "2027-05-15",
    )
    at_discharge = medreview.get(f"/fhir/{three['focus']['reference']}").json()
    assert at_discharge["valueQuantity"]["value"] == 120 and "comparator" not in at_discharge["valueQuantity"]
    assert medreview.events("gp.task-requested.v1", f"Task/{three['id']}")
    assert medreview.events("gp.record-read-requested.v1", f"Task/{three['id']}")

    # gpconnect holds each GP record read until the follow-up's day (its dated delivery outbox; a day already
    # past by gpconnect's own clock, the system clock here, is due at once)
    def dated_reads() -> list[Any]:
        asked = [e["id"] for e in medreview.events("gp.record-read-requested.v1", "Task/")]
        with medreview.system.services["gpconnect"].engine.connect() as conn:
            query = sa.select(delivery.c.event_id, delivery.c.next_attempt_at, delivery.c.created_at)
            return list(
                conn.execute(query.where(delivery.c.kind == "record-read", delivery.c.event_id.in_(asked)))
            )

    reads = eventually(lambda: len(r := dated_reads()) >= 2 and r)
    requested = {
        e["id"]: e["data"]["executionPeriod"]["start"]
        for e in medreview.events("gp.record-read-requested.v1")
    }
    for row in reads:
        due = datetime.fromisoformat(requested[row.event_id]).replace(tzinfo=UTC)
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        at = row.next_attempt_at if row.next_attempt_at.tzinfo else row.next_attempt_at.replace(tzinfo=UTC)
        if due > created:  # not yet due by gpconnect's clock: held until that day, not before
            assert at == due
    assert {requested[r.event_id] for r in reads} >= {"2026-08-15", "2027-05-15"}

    # a sync before the date records nothing
    synced(medreview, patient, medicine(patient, f"{patient}-mor", MORPHINE_60_MR, "one twice a day"))
    assert not _dose_held(medreview, patient)

    # at 3 months the GP record holds 30 mg twice a day: 60 mg a day, reduced from 120
    move(clock, datetime(2026, 8, 15, 8, 0, tzinfo=UTC))
    synced(
        medreview,
        patient,
        medicine(
            patient, f"{patient}-mor30", "Morphine sulfate 30mg modified-release tablets", "one twice a day"
        ),
    )
    [held] = eventually(lambda: _dose_held(medreview, patient))
    validate_resource(held, "Observation")
    assert held["valueCodeableConcept"]["coding"][0]["code"] == "reduced"
    assert [c.get("valueQuantity", {}).get("value") for c in held["component"]] == [120, 60]
    three = medreview.get(f"/fhir/Task/{three['id']}").json()
    assert three["status"] == "completed"
    assert three["output"][0]["valueReference"] == {"reference": f"Observation/{held['id']}"}
    assert medreview.get(f"/fhir/Task/{twelve['id']}").json()["status"] == "requested"
    # announced for careplan (which records the PROMs as of this day): the completed Task, once
    [recorded] = medreview.events("follow-up.recorded.v1", f"Task/{three['id']}")
    assert recorded["data"]["status"] == "completed" and recorded["data"]["output"] == three["output"]
    assert {"type": {"text": "discharged"}, "valueDate": "2026-05-15"} in recorded["data"]["input"]

    # at 12 months a dose that cannot be read: not computable, no figure given
    move(clock, datetime(2027, 5, 16, 8, 0, tzinfo=UTC))
    synced(
        medreview,
        patient,
        medicine(patient, f"{patient}-mor-x", MORPHINE_60_MR, "as directed by the pain clinic"),
    )
    later = eventually(lambda: len(o := _dose_held(medreview, patient)) == 2 and o)
    unknown = next(o for o in later if o["id"] != held["id"])
    validate_resource(unknown, "Observation")
    assert unknown["valueCodeableConcept"]["coding"][0]["code"] == "not-computable"
    follow = unknown["component"][1]
    assert "valueQuantity" not in follow and "dataAbsentReason" in follow
    assert medreview.get(f"/fhir/Task/{twelve['id']}").json()["status"] == "completed"


def test_a_repeated_request_raises_one_concern_and_another_practice_cannot_raise_one(
    clocked: tuple[Medreview, Path],
) -> None:
    medreview, clock = clocked
    move(clock, START)
    patient, plan = active_plan(medreview)
    body = {
        **PARAMS,
        "parameter": [
            {"name": "kind", "valueCode": "mood"},
            {"name": "severity", "valueInteger": 2},
            {"name": "description", "valueString": "Feeling low this week"},
        ],
    }
    headers = {**medreview.headers(), "x-request-id": f"concern-{patient}"}
    path = f"/medreview/fhir/CarePlan/{plan['id']}/$raise-concern"
    assert medreview.client.post(path, json=body, headers=headers).status_code == 200
    assert medreview.client.post(path, json=body, headers=headers).status_code == 409
    found = medreview.get("/fhir/Task", patient=f"Patient/{patient}", code="taper-concern").json()
    assert found["total"] == 1
    other = medreview.other_practice_token()
    refused = medreview.post(f"/fhir/CarePlan/{plan['id']}/$raise-concern", body, token=other)
    assert refused.status_code == 404


def test_a_concern_on_a_paused_plan_reaches_the_practice_and_does_not_pause_it_again(
    clocked: tuple[Medreview, Path],
) -> None:
    medreview, clock = clocked
    move(clock, START)
    _, plan = active_plan(medreview)
    assert part(concern(medreview, plan, "withdrawal", 9).json(), "paused") is True
    paused = medreview.get(f"/fhir/CarePlan/{plan['id']}").json()
    again = concern(medreview, paused, "mood", 10)
    assert again.status_code == 200, again.text
    assert part(again.json(), "paused") is False and part(again.json(), "priority") == "asap"
    assert len(medreview.events("taper.paused.v1", f"CarePlan/{plan['id']}")) == 1
    # an approval Task is not a concern: answering it as one is refused
    approval = medreview.get(
        "/fhir/Task", patient=plan["subject"]["reference"], code="approve-taper-step"
    ).json()
    note = {**PARAMS, "parameter": [{"name": "note", "valueString": "Called"}]}
    refused = medreview.post(f"/fhir/Task/{approval['entry'][0]['resource']['id']}/$answer-concern", note)
    assert refused.status_code == 422


def test_a_pass_that_read_a_concern_before_another_escalated_it_writes_nothing(
    clocked: tuple[Medreview, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas' passes: the second read the concern at the version the first escalated."""
    medreview, clock = clocked
    move(clock, START)
    _, plan = active_plan(medreview)
    task = part(concern(medreview, plan, "mood", 2).json(), "task")
    due_work = medreview.system.services["medreview"].app.state.due_work
    stale = medreview.get(f"/fhir/Task/{task['id']}").json()
    move(clock, START + timedelta(hours=5))
    [first] = [t for t in run_due(medreview) if t["focus"]["reference"] == f"Task/{task['id']}"]
    assert first["priority"] == "stat"

    real_search = MedreviewRepository.search

    def stale_search(self: Any, conn: Any, resource_type: str, params: Any, tenants: Any) -> Any:
        # the second replica's search returns the concern as it read it before the first wrote
        return [stale] if resource_type == "Task" else real_search(self, conn, resource_type, params, tenants)

    monkeypatch.setattr(MedreviewRepository, "search", stale_search)

    def second_pass(uow: UnitOfWork) -> list[dict[str, Any]]:
        uow.now = START + timedelta(hours=5)
        return escalate_overdue(uow, ConcernPolicy())

    assert as_service(due_work.kernel, PRACTICE, second_pass) == []


def _refusal(response: Any, parameter: str) -> str:
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    text = str(outcome["issue"][0].get("diagnostics") or outcome["issue"][0].get("details"))
    assert f"'{parameter}'" in text, text
    return text


def _concerns(medreview: Medreview, patient: str) -> list[dict[str, Any]]:
    found = medreview.get("/fhir/Task", patient=f"Patient/{patient}", code="taper-concern").json()
    return [e["resource"] for e in found.get("entry", [])]


def test_a_concern_date_is_today_or_up_to_14_days_before_by_the_services_clock(
    clocked: tuple[Medreview, Path],
) -> None:
    # Attacker finding: date=1900-01-01 with stepBack proposed a step back from 1900 and backdated the plan
    # note; 9999-12-31 was taken too. The service's clock is at 2026-04-06 09:00Z (the wall clock is not):
    # by hand, 14 days before 2026-04-06 is 2026-03-23 (6 days back to 31 March, 8 more to 23 March).
    medreview, clock = clocked
    move(clock, START)
    patient, plan = active_plan(medreview)

    def drafts() -> list[tuple[str, str]]:
        found = medreview.get("/fhir/MedicationRequest", patient=f"Patient/{patient}", status="draft").json()
        resources = [e["resource"] for e in found.get("entry", [])]
        return sorted((r["id"], r["meta"]["versionId"]) for r in resources)

    drafts_before = drafts()
    for day, step in [("1900-01-01", True), ("0001-01-01", False), ("2026-03-22", True)]:
        _refusal(
            concern(
                medreview, plan, "pain-flare", 9, date={"valueDate": day}, stepBack={"valueBoolean": step}
            ),
            "date",
        )
    for day in [
        "9999-12-31",
        "2026-04-07",
    ]:  # after today by the service's clock (2026-04-07 is past by the wall's)
        _refusal(concern(medreview, plan, "withdrawal", 9, date={"valueDate": day}), "date")
    # nothing was written: no concern Task, the plan still active, no step back proposed
    assert _concerns(medreview, patient) == []
    assert medreview.get(f"/fhir/CarePlan/{plan['id']}").json()["status"] == "active"
    # (compared by id and version: a search for "1900" in the drafts' text matched a random id once, in CI)
    assert drafts() == drafts_before
    # the bounds themselves are taken: 14 days before, and today
    for day in ["2026-03-23", "2026-04-06"]:
        answer = concern(medreview, plan, "mood", 2, date={"valueDate": day})
        assert answer.status_code == 200, answer.text
    assert len(_concerns(medreview, patient)) == 2
    # the bound moves with the service's clock, not the wall's
    move(clock, START + timedelta(days=30))
    assert concern(medreview, plan, "mood", 2, date={"valueDate": "2026-05-06"}).status_code == 200
    _refusal(concern(medreview, plan, "mood", 2, date={"valueDate": "2026-04-21"}), "date")


def test_a_concern_description_and_an_answer_note_are_capped_at_2000_characters(
    clocked: tuple[Medreview, Path],
) -> None:
    # Attacker finding: a 4 MB description was stored in the Task and sent to the GP system.
    medreview, clock = clocked
    move(clock, START)
    patient, plan = active_plan(medreview)

    def described(words: str) -> Any:
        parameters = [
            {"name": "kind", "valueCode": "mood"},
            {"name": "severity", "valueInteger": 2},
            {"name": "description", "valueString": words},
        ]
        return medreview.post(
            f"/fhir/CarePlan/{plan['id']}/$raise-concern", {**PARAMS, "parameter": parameters}
        )

    for words in ["x" * 2_001, "x" * 4_000_000]:
        _refusal(described(words), "description")
    assert _concerns(medreview, patient) == []
    taken = described("é" * 2_000)  # characters, not bytes: 2,000 two-byte characters are taken
    assert taken.status_code == 200, taken.text
    task = part(taken.json(), "task")
    [sent] = medreview.events("gp.task-requested.v1", f"Task/{task['id']}")
    assert "x" * 2_001 not in str(sent)

    def answered(note: str) -> Any:
        body = {**PARAMS, "parameter": [{"name": "note", "valueString": note}]}
        return medreview.post(f"/fhir/Task/{task['id']}/$answer-concern", body)

    for note in ["y" * 2_001, "y" * 4_000_000]:
        _refusal(answered(note), "note")
    assert medreview.get(f"/fhir/Task/{task['id']}").json()["status"] != "completed"
    done = answered("y" * 2_000)
    assert done.status_code == 200, done.text
    assert medreview.get(f"/fhir/Task/{task['id']}").json()["status"] == "completed"
