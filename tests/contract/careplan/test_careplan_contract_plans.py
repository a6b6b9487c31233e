"""Co-producing the plan over the API: concurrent edits, agreement, activity rules, budget, the
assessment, sessions with carers, GP summaries and MDT reviews."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select

from services.careplan.domain.catalogue import (
    SESSION_NOTE_EXTENSION,
    interventions,
)
from shared.contracts import PATIENT_ENROLLED_V1, from_json
from shared.outbox import outbox
from tests.support import eventually
from tests.support.careplan import Careplan, assert_round_trips, community_referral, enrolment


def _enrolled_plan(careplan: Careplan, patient: str) -> dict[str, Any]:
    careplan.publish(
        "referral", PATIENT_ENROLLED_V1, f"EpisodeOfCare/ep-{patient}", enrolment(patient, f"ep-{patient}")
    )
    plan = eventually(lambda: next(iter(careplan.search("CarePlan", patient=f"Patient/{patient}")), None))
    return plan


def _events(careplan: Careplan, type_: str) -> list[dict[str, Any]]:
    with careplan.system.services["careplan"].engine.connect() as conn:
        rows = conn.execute(select(outbox.c.payload).where(outbox.c.type == type_)).all()
    return [from_json(r.payload).data for r in rows]


def _activity(code: str, status: str, reason: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"code": interventions()[code].concept(), "status": status}
    if reason:
        detail["statusReason"] = {"text": reason}
    return {"id": code, "detail": detail}


def test_two_updates_with_the_same_if_match_one_wins_the_other_gets_412_and_nothing_is_lost(
    careplan: Careplan,
) -> None:
    plan = _enrolled_plan(careplan, "c1")
    etag = f'W/"{plan["meta"]["versionId"]}"'
    edits = [
        {**plan, "activity": [_activity("pacing", "not-started")]},
        {**plan, "activity": [_activity("sleep-hygiene", "not-started")]},
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(
            pool.map(lambda body: careplan.put(f"/CarePlan/{plan['id']}", body, **{"if-match": etag}), edits)
        )
    assert sorted(r.status_code for r in responses) == [200, 412]
    loser = edits[[r.status_code for r in responses].index(412)]
    assert (
        responses[[r.status_code for r in responses].index(412)].json()["resourceType"] == "OperationOutcome"
    )
    current = careplan.get(f"/CarePlan/{plan['id']}")
    merged = {**current.json(), "activity": current.json()["activity"] + loser["activity"]}
    again = careplan.put(f"/CarePlan/{plan['id']}", merged, **{"if-match": current.headers["etag"]})
    assert again.status_code == 200
    assert {a["id"] for a in again.json()["activity"]} == {"pacing", "sleep-hygiene"}
    history = careplan.get(f"/CarePlan/{plan['id']}/_history").json()
    assert history["total"] == 3  # enrolment, the winner, the loser's retry: every version kept


def test_a_plan_becomes_active_only_when_patient_and_worker_agree(careplan: Careplan) -> None:
    plan = _enrolled_plan(careplan, "a1")
    refused = careplan.put(f"/CarePlan/{plan['id']}", {**plan, "status": "active"})
    assert refused.status_code == 422 and "agree" in refused.text
    one_party = careplan.post(
        f"/CarePlan/{plan['id']}/$activate",
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "patientAgreement", "valueDateTime": "2024-02-01"}],
        },
    )
    assert one_party.status_code == 400
    stale = careplan.post(
        f"/CarePlan/{plan['id']}/$activate",
        _agreement(),
        **{"if-match": 'W/"99"'},
    )
    assert stale.status_code == 412
    activated = careplan.post(f"/CarePlan/{plan['id']}/$activate", _agreement(send=True))
    assert activated.status_code == 200 and activated.json()["status"] == "active"
    updates = [e for e in _events(careplan, "careplan.updated.v1") if e["id"] == plan["id"]]
    assert updates[-1]["status"] == "active"
    tasks = [
        t
        for t in _events(careplan, "gp.task-requested.v1")
        if t["focus"]["reference"] == f"CarePlan/{plan['id']}"
    ]
    assert tasks and tasks[-1]["code"]["coding"][0]["code"] == "plan-summary"
    attachment = tasks[-1]["input"][1]["valueAttachment"]
    assert base64.b64decode(attachment["data"]).decode().startswith("Pain management plan (active)")
    assert_round_trips(tasks[-1])
    back = careplan.put(f"/CarePlan/{plan['id']}", {**activated.json(), "status": "draft"})
    assert back.status_code == 422


def _agreement(send: bool = False) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patientAgreement", "valueDateTime": "2024-02-01"},
            {"name": "projectWorkerAgreement", "valueDateTime": "2024-02-01"},
            {"name": "sendSummary", "valueBoolean": send},
        ],
    }


def test_activities_are_started_completed_or_stopped_with_a_reason(careplan: Careplan) -> None:
    plan = _enrolled_plan(careplan, "s1")
    applied = careplan.post(
        "/PlanDefinition/pain-management-core/$apply?subject=Patient/s1", {"resourceType": "Parameters"}
    )
    assert applied.status_code == 200
    plan = applied.json()
    assert {a["id"] for a in plan["activity"]} >= {"pain-management-book", "pacing", "goal-setting"}
    assert plan["instantiatesCanonical"] == [
        "https://pain-review.example.org/fhir/PlanDefinition/pain-management-core"
    ]
    started = [
        dict(a, detail={**a["detail"], "status": "in-progress"}) if a["id"] == "pacing" else a
        for a in plan["activity"]
    ]
    plan = careplan.put(f"/CarePlan/{plan['id']}", {**plan, "activity": started}).json()
    stopped = [
        dict(a, detail={**a["detail"], "status": "stopped"}) if a["id"] == "pacing" else a
        for a in plan["activity"]
    ]
    refused = careplan.put(f"/CarePlan/{plan['id']}", {**plan, "activity": stopped})
    assert refused.status_code == 422 and "statusReason" in refused.text
    stopped[[a["id"] for a in stopped].index("pacing")]["detail"]["statusReason"] = {
        "text": "Patient prefers walking"
    }
    assert careplan.put(f"/CarePlan/{plan['id']}", {**plan, "activity": stopped}).status_code == 200
    unknown = {
        **plan,
        "activity": [
            {
                "id": "x",
                "detail": {
                    "code": {
                        "coding": [{"system": interventions()["pacing"].coding()["system"], "code": "yoga"}]
                    },
                    "status": "not-started",
                },
            }
        ],
    }
    assert careplan.put(f"/CarePlan/{plan['id']}", unknown).status_code == 422
    both = [
        dict(a, reference={"reference": "ServiceRequest/physio-1"}) if a["id"] == "pacing" else a
        for a in plan["activity"]
    ]
    refused = careplan.put(f"/CarePlan/{plan['id']}", {**plan, "activity": both})
    assert refused.status_code == 422 and "cpl-3" in refused.text


def test_community_referrals_are_tracked_against_the_budget_and_overspend_is_refused(
    careplan: Careplan,
) -> None:
    plan = _enrolled_plan(careplan, "b1")
    assert (
        careplan.post("/ServiceRequest", community_referral("b1", "physiotherapy", "150.00")).status_code
        == 201
    )
    assert (
        careplan.post("/ServiceRequest", community_referral("b1", "relaxation-group", "80.00")).status_code
        == 201
    )
    over = careplan.post("/ServiceRequest", community_referral("b1", "gym-physical-activity", "40.00"))
    assert over.status_code == 422 and "£20.00 over" in over.text
    budget = careplan.get(f"/CarePlan/{plan['id']}/$budget").json()
    values = {p["name"]: p["valueMoney"]["value"] for p in budget["parameter"]}
    assert values == {"budget": 250.0, "committed": 230.0, "remaining": 20.0}
    waiting = careplan.search("ServiceRequest", patient="Patient/b1")
    assert all(r["extension"][1]["valueCoding"]["code"] == "waiting" for r in waiting)


def test_the_assessment_is_scored_and_wrong_totals_are_refused(careplan: Careplan) -> None:
    def response(phq_total: int | None) -> dict[str, Any]:
        phq: list[dict[str, Any]] = [
            {"linkId": code, "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA6569-3"}}]}
            for code in (
                "44250-9",
                "44255-8",
                "44259-0",
                "44254-1",
                "44251-7",
                "44258-2",
                "44252-5",
                "44253-3",
                "44260-8",
            )
        ]
        if phq_total is not None:
            phq.append({"linkId": "44261-6", "answer": [{"valueInteger": phq_total}]})
        peg = [
            {"linkId": code, "answer": [{"valueInteger": v}]}
            for code, v in (("75893-8", 7), ("91145-3", 6), ("91146-1", 8))
        ]
        return {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": "https://pain-review.example.org/fhir/Questionnaire/pain-review-assessment",
            "status": "completed",
            "subject": {"reference": "Patient/q1"},
            "authored": "2024-02-01T10:00:00Z",
            "item": [{"linkId": "peg", "item": peg}, {"linkId": "phq-9", "item": phq}],
        }

    assert careplan.post("/QuestionnaireResponse", response(12)).status_code == 422
    stored = careplan.post("/QuestionnaireResponse", response(9))
    assert stored.status_code == 201
    scores = careplan.get(f"/QuestionnaireResponse/{stored.json()['id']}/$score").json()
    by_name = {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in scores["parameter"]}
    assert by_name == {"phq9Total": 9, "phq9Severity": "mild", "phq9Item9Positive": True, "pegMean": 7.0}


def test_a_session_with_a_carer_is_summarised_for_the_gp(careplan: Careplan) -> None:
    _enrolled_plan(careplan, "v1")
    session = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [interventions()["pacing"].concept()],
        "subject": {"reference": "Patient/v1"},
        "period": {"start": "2024-02-14T10:00:00Z", "end": "2024-02-14T11:00:00Z"},
        "location": [{"location": {"display": "GP practice, room 3"}}],
        "participant": [
            {"type": [{"text": "project worker"}], "individual": {"display": "Project worker"}},
            {
                "type": [{"text": "carer"}],
                "individual": {"reference": "RelatedPerson/carer-v1", "display": "Partner"},
            },
        ],
        "extension": [
            {"url": SESSION_NOTE_EXTENSION, "valueAnnotation": {"text": "Practised pacing with ironing."}}
        ],
    }
    created = careplan.post("/Encounter", session)
    assert created.status_code == 201
    task = careplan.post(f"/Encounter/{created.json()['id']}/$gp-summary", {"resourceType": "Parameters"})
    assert task.status_code == 200
    body = task.json()
    assert body["code"]["coding"][0]["code"] == "session-summary"
    assert body["owner"]["identifier"]["value"] == "A81001"
    summary = body["input"][0]["valueString"]
    assert "carer (Partner)" in summary and "Practised pacing" in summary
    assert careplan.get(f"/Task/{body['id']}").status_code == 200
    assert any(t["id"] == body["id"] for t in _events(careplan, "gp.task-requested.v1"))


def test_monthly_mdt_reviews_are_proposed_once_for_the_care_team_and_record_attendance(
    careplan: Careplan,
) -> None:
    _enrolled_plan(careplan, "m1")
    ask = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "valueReference": {"reference": "Patient/m1"}},
            {"name": "month", "valueString": "2024-03"},
        ],
    }
    first = careplan.post("/Appointment/$propose-mdt-review", ask).json()
    again = careplan.post("/Appointment/$propose-mdt-review", ask).json()
    [appointment] = [e["resource"] for e in first["entry"]]
    assert [e["resource"]["id"] for e in again["entry"]] == [appointment["id"]]
    assert (
        appointment["status"] == "proposed" and appointment["start"] == "2024-03-06T12:30:00Z"
    )  # first Wednesday
    gp = next(p for p in appointment["participant"] if p["actor"].get("reference") == "Practitioner/gp1")
    assert gp["status"] == "needs-action"
    gp["status"] = "accepted"
    attended = {
        **appointment,
        "status": "fulfilled",
        "comment": "Agreed to slow the taper; review in a month.",
    }
    assert careplan.put(f"/Appointment/{appointment['id']}", attended).status_code == 200
    everyone = careplan.post(
        "/Appointment/$propose-mdt-review",
        {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2024-04"}]},
    ).json()
    assert everyone["total"] >= 1
    assert_round_trips(appointment)


def test_a_practices_own_intervention_and_goals_with_targets_join_the_plan(careplan: Careplan) -> None:
    plan = _enrolled_plan(careplan, "l1")
    local = {
        "resourceType": "CodeSystem",
        "url": "https://a81001.example.nhs.uk/fhir/CodeSystem/interventions",
        "name": "A81001Interventions",
        "status": "active",
        "content": "complete",
        "concept": [{"code": "walking-group", "display": "Walking group"}],
    }
    assert careplan.post("/CodeSystem", local).status_code == 201
    goal = careplan.post(
        "/Goal",
        {
            "resourceType": "Goal",
            "lifecycleStatus": "active",
            "achievementStatus": {"text": "In progress"},
            "description": {"text": "Walk to the shop and back"},
            "subject": {"reference": "Patient/l1"},
            "target": [
                {
                    "measure": {"text": "minutes walking a day"},
                    "detailQuantity": {"value": 20, "unit": "min"},
                    "dueDate": "2024-06-01",
                }
            ],
        },
    ).json()
    activity = {
        "id": "walking-group",
        "detail": {
            "code": {
                "coding": [{"system": local["url"], "code": "walking-group", "display": "Walking group"}]
            },
            "status": "in-progress",
        },
    }
    updated = careplan.put(
        f"/CarePlan/{plan['id']}",
        {**plan, "activity": [activity], "goal": [{"reference": f"Goal/{goal['id']}"}]},
    )
    assert updated.status_code == 200, updated.text
    task = careplan.post(
        f"/CarePlan/{plan['id']}/$gp-summary",
        {"resourceType": "Parameters", "parameter": [{"name": "attach", "valueBoolean": True}]},
    ).json()
    summary = task["input"][0]["valueString"]
    assert (
        "Walking group: in progress" in summary and "Goal: Walk to the shop and back (In progress)" in summary
    )
    report = careplan.get(
        "/Measure/service-evaluation/$evaluate-measure", periodStart="2024-01-01", periodEnd="2024-12-31"
    ).json()
    strata = report["group"][1]["stratifier"][0]["stratum"]
    walking = next(s for s in strata if s["value"]["coding"][0]["code"] == "walking-group")
    assert walking["value"]["text"] == "Walking group" and walking["population"][2]["count"] == 1


def test_the_gp_practices_answer_to_a_summary_task_is_recorded(careplan: Careplan) -> None:
    from shared.contracts import GP_TASK_COMPLETED_V1

    plan = _enrolled_plan(careplan, "g1")
    task = careplan.post(f"/CarePlan/{plan['id']}/$gp-summary", {"resourceType": "Parameters"}).json()
    done = {**task, "status": "completed", "businessStatus": {"text": "filed in the GP record"}}
    done.pop("meta")
    careplan.publish("gpconnect", GP_TASK_COMPLETED_V1, f"Task/{task['id']}", done)
    stored = eventually(
        lambda: t if (t := careplan.get(f"/Task/{task['id']}").json())["status"] == "completed" else None
    )
    assert stored["businessStatus"]["text"] == "filed in the GP record"
