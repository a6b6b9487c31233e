"""Taper plans over HTTP and the bus: proposal -> GP Task -> gp.task-completed -> order and
prescription.changed; decline through ``$decide``; pause by a posted withdrawal score; pause and resume;
patient.discharged ends the plan; every resource medreview emits is valid R4 and keeps cpl-3."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from services.medreview.fhir_mapping import StepRecord, step_references, steps_of
from shared.auth import mint_local_token
from shared.contracts import GP_TASK_COMPLETED_V1, PATIENT_DISCHARGED_V1, from_json, taper_parts
from shared.core.principal import Tenancy
from shared.fhir import ResourceStore, validate_resource
from shared.outbox import outbox
from tests.support import eventually
from tests.support.invariants import assert_invariants, cpl3_violations
from tests.support.medreview import PRACTICE, Medreview, medicine, new_patient, synced

PARAMS = {"resourceType": "Parameters"}


def start(medreview: Medreview, **policy: Any) -> tuple[str, dict[str, Any]]:
    patient = new_patient()
    synced(
        medreview,
        patient,
        medicine(
            patient, f"{patient}-mor", "Morphine sulfate 60mg modified-release tablets", "one twice a day"
        ),
    )
    parameters = [{"name": "startDate", "valueDate": "2026-04-06"}]
    parameters += [{"name": k, **v} for k, v in policy.items()]
    response = medreview.post(f"/fhir/Patient/{patient}/$propose-taper", {**PARAMS, "parameter": parameters})
    assert response.status_code == 200, response.text
    return patient, response.json()


def steps(medreview: Medreview, careplan: dict[str, Any]) -> list[StepRecord]:
    """The plan's steps with their MedicationRequests as medreview serves them now (one search)."""
    found = medreview.get(
        "/fhir/MedicationRequest", patient=careplan["subject"]["reference"], intent="proposal", _count="1000"
    ).json()
    proposals = {f"MedicationRequest/{e['resource']['id']}": e["resource"] for e in found.get("entry", [])}
    return steps_of(careplan, {ref: proposals[ref] for ref in step_references(careplan)})


def stored(medreview: Medreview, reference: str) -> dict[str, Any]:
    """A resource as medreview stores it, read without HTTP (to poll without spending the rate limit)."""
    resource_type, _, resource_id = reference.partition("/")
    with medreview.system.services["medreview"].engine.connect() as conn:
        return ResourceStore().read(conn, resource_type, resource_id, tenants=Tenancy({PRACTICE}))


def approval_task(medreview: Medreview, patient: str) -> dict[str, Any]:
    found = medreview.get(
        "/fhir/Task", patient=f"Patient/{patient}", status="requested", code="approve-taper-step"
    ).json()
    assert found["total"] == 1
    task: dict[str, Any] = found["entry"][0]["resource"]
    return task


def test_a_proposed_plan_goes_to_the_gp_and_an_approval_comes_back_as_a_prescription_change(
    medreview: Medreview,
) -> None:
    patient, careplan = start(medreview, stepPercent={"valueDecimal": 10}, intervalDays={"valueInteger": 14})
    validate_resource(careplan, "CarePlan")
    assert_invariants(careplan)
    assert careplan["status"] == "draft" and careplan["subject"] == {"reference": f"Patient/{patient}"}
    first = steps(medreview, careplan)[0]
    assert first.date.isoformat() == "2026-04-06" and set(careplan["activity"][0]) == {"reference"}
    proposal = medreview.get(f"/fhir/{first.proposal}").json()
    assert proposal["dispenseRequest"]["validityPeriod"]["start"] == "2026-04-06"
    [proposed] = medreview.events("taper.proposed.v1", f"CarePlan/{careplan['id']}")
    plan, requests = taper_parts(proposed["data"])
    assert plan["id"] == careplan["id"] and first.proposal in requests
    task = approval_task(medreview, patient)
    [requested] = medreview.events("gp.task-requested.v1", f"Task/{task['id']}")
    assert requested["data"]["focus"] == {"reference": first.proposal}
    answer = {**task, "status": "completed", "businessStatus": {"text": "approved"}}
    medreview.publish("gpconnect", GP_TASK_COMPLETED_V1, answer, f"Task/{task['id']}")
    order_ref = eventually(
        lambda: next(
            (
                e["subject"]
                for e in medreview.events("prescription.changed.v1")
                if e["data"]["entry"][-1]["resource"]["id"] == f"{patient}-mor"
            ),
            None,
        )
    )
    order = medreview.get(f"/fhir/{order_ref}").json()
    assert (order["intent"], order["status"]) == ("order", "active")
    assert order["priorPrescription"] == {"reference": f"MedicationRequest/{patient}-mor"}
    assert medreview.get(f"/fhir/MedicationRequest/{patient}-mor").json()["status"] == "stopped"
    plan = medreview.get(f"/fhir/CarePlan/{careplan['id']}").json()
    assert plan["status"] == "active" and steps(medreview, plan)[0].status == "completed"
    # a step in several strengths is one order per strength, each replacing the prescription
    assert plan["activity"][0]["outcomeReference"][0] == {"reference": order_ref}
    for outcome in plan["activity"][0]["outcomeReference"][1:]:
        other = medreview.get(f"/fhir/{outcome['reference']}").json()
        assert other["priorPrescription"] == {"reference": f"MedicationRequest/{patient}-mor"}
        assert other["groupIdentifier"] == order["groupIdentifier"]
    assert medreview.events("taper.approved.v1", f"CarePlan/{careplan['id']}")
    assert approval_task(medreview, patient)["focus"] == {"reference": steps(medreview, careplan)[1].proposal}


def test_a_gp_system_declines_a_step_through_the_api_with_a_reason(medreview: Medreview) -> None:
    patient, careplan = start(medreview)
    task = approval_task(medreview, patient)
    missing = medreview.post(
        f"/fhir/Task/{task['id']}/$decide",
        {**PARAMS, "parameter": [{"name": "decision", "valueCode": "declined"}]},
    )
    assert missing.status_code == 400
    decision = {
        **PARAMS,
        "parameter": [
            {"name": "decision", "valueCode": "declined"},
            {"name": "reason", "valueString": "Review after the pain clinic appointment"},
        ],
    }
    closed = medreview.post(f"/fhir/Task/{task['id']}/$decide", decision)
    assert closed.status_code == 200 and closed.json()["status"] == "rejected"
    plan = medreview.get(f"/fhir/CarePlan/{careplan['id']}").json()
    assert plan["status"] == "revoked"
    first = steps(medreview, plan)[0]
    assert first.reason == "Review after the pain clinic appointment"
    [declined] = medreview.events("taper.declined.v1", f"CarePlan/{careplan['id']}")
    assert taper_parts(declined["data"])[0]["status"] == "revoked"
    reason = taper_parts(declined["data"])[1][first.proposal or ""]["statusReason"]
    assert reason["coding"][0]["code"] == "declined" and reason["text"] == first.reason
    again = medreview.post(
        f"/fhir/Task/{task['id']}/$decide",
        {**PARAMS, "parameter": [{"name": "decision", "valueCode": "approved"}]},
    )
    assert again.status_code == 409


def _audit_events(medreview: Medreview, practice: str, request_id: str) -> list[dict[str, Any]]:
    query = ResourceStore().query("AuditEvent", [], count=1000)
    with medreview.system.services["medreview"].engine.connect() as conn:
        found = ResourceStore().search(conn, query, tenants=Tenancy({practice})).resources
    return [
        e
        for e in found
        if any(
            (entity.get("what") or {}).get("identifier", {}).get("value") == request_id
            for entity in e.get("entity", [])
        )
    ]


def _agent(event: dict[str, Any]) -> tuple[str, str]:
    requestor = next(a for a in event["agent"] if a.get("requestor"))
    return requestor["who"]["identifier"]["value"], requestor["role"][0]["text"]


def test_only_a_prescriber_at_the_practice_decides_and_every_decision_and_refusal_is_audited_with_who(
    medreview: Medreview,
) -> None:
    """A project worker or specialist assigned to the practice is refused 403 (audited, naming them) and the
    step stays proposed; a prescriber of another practice cannot reach it; the practice's prescriber's
    decision is audited naming the prescriber."""
    patient, careplan = start(medreview)
    task = approval_task(medreview, patient)
    approve = {**PARAMS, "parameter": [{"name": "decision", "valueCode": "approved"}]}
    for role in ("project-worker", "specialist"):
        staff = mint_local_token(
            medreview.system.auth, practice=PRACTICE, scope="system/*.cruds", role=role, practices=[PRACTICE]
        )
        request_id = str(uuid.uuid4())
        refused = medreview.client.post(
            f"/medreview/fhir/Task/{task['id']}/$decide",
            json=approve,
            headers={**medreview.headers(staff), "x-request-id": request_id},
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["resourceType"] == "OperationOutcome"
        [event] = _audit_events(medreview, PRACTICE, request_id)
        assert event["outcome"] == "4" and _agent(event) == (f"local-cli-{role}-{PRACTICE}", role)
        assert medreview.get(f"/fhir/Task/{task['id']}").json()["status"] == "requested"
    assert not medreview.events("taper.approved.v1", f"CarePlan/{careplan['id']}")
    elsewhere = mint_local_token(
        medreview.system.auth, practice="B82002", scope="system/*.cruds", role="prescriber"
    )
    assert medreview.post(f"/fhir/Task/{task['id']}/$decide", approve, token=elsewhere).status_code == 404
    prescriber = mint_local_token(
        medreview.system.auth, practice=PRACTICE, scope="system/*.cruds", role="prescriber"
    )
    request_id = str(uuid.uuid4())
    decided = medreview.client.post(
        f"/medreview/fhir/Task/{task['id']}/$decide",
        json=approve,
        headers={**medreview.headers(prescriber), "x-request-id": request_id},
    )
    assert decided.status_code == 200 and decided.json()["status"] == "completed", decided.text
    [event] = _audit_events(medreview, PRACTICE, request_id)
    assert event["outcome"] == "0" and _agent(event) == (f"local-cli-prescriber-{PRACTICE}", "prescriber")
    assert medreview.events("taper.approved.v1", f"CarePlan/{careplan['id']}")


def test_the_pace_follows_the_records_first_prescription_unless_a_clinician_says_otherwise(
    medreview: Medreview,
) -> None:
    """Morphine first prescribed on 2 January 2024, more than a year before the plan starts on 6 April 2026:
    10% of the starting dose a month (steps 28 days apart), said on the plan; a clinician's
    ``longTermUse`` false keeps the two-weekly default."""
    patient = new_patient()
    morphine = medicine(
        patient, f"{patient}-mor", "Morphine sulfate 60mg modified-release tablets", "one twice a day"
    )
    synced(medreview, patient, morphine | {"authoredOn": "2024-01-02T09:00:00Z"})
    body = {**PARAMS, "parameter": [{"name": "startDate", "valueDate": "2026-04-06"}]}
    response = medreview.post(f"/fhir/Patient/{patient}/$propose-taper", body)
    assert response.status_code == 200, response.text
    plan = response.json()
    first, second = steps(medreview, plan)[:2]
    assert (first.date.isoformat(), second.date.isoformat()) == ("2026-04-06", "2026-05-04")
    assert "since 2024-01-02: a year or more" in plan["note"][-1]["text"]
    discharge = {**PARAMS, "parameter": [{"name": "reason", "valueString": "clinician review"}]}
    assert medreview.post(f"/fhir/CarePlan/{plan['id']}/$pause", discharge).status_code == 200
    revoke = medreview.get(f"/fhir/CarePlan/{plan['id']}").json() | {"status": "revoked"}
    medreview.client.put(
        f"/medreview/fhir/CarePlan/{plan['id']}", json=revoke, headers=medreview.headers()
    ).raise_for_status()
    said = [{"name": "startDate", "valueDate": "2026-04-06"}, {"name": "longTermUse", "valueBoolean": False}]
    again = medreview.post(f"/fhir/Patient/{patient}/$propose-taper", {**PARAMS, "parameter": said})
    assert again.status_code == 200, again.text
    first, second = steps(medreview, again.json())[:2]
    assert (second.date - first.date).days == 14


def test_a_gated_regimen_gets_no_plan_until_an_mdt_review_agrees_one(medreview: Medreview) -> None:
    """Morphine with diazepam (MHRA: opioid with a benzodiazepine): 422 naming the gate; a project worker
    cannot record the review (403); a review advising against keeps the 422; one agreeing opens it, and the
    plan's note names the review (and the careplan Appointment it was held at)."""
    patient = new_patient()
    synced(
        medreview,
        patient,
        medicine(
            patient, f"{patient}-mor", "Morphine sulfate 60mg modified-release tablets", "one twice a day"
        ),
        medicine(patient, f"{patient}-dia", "Diazepam 5mg tablets", "one at night"),
    )
    body = {**PARAMS, "parameter": [{"name": "startDate", "valueDate": "2026-04-06"}]}
    refused = medreview.post(f"/fhir/Patient/{patient}/$propose-taper", body)
    assert refused.status_code == 422
    assert "a benzodiazepine prescribed with the opioid" in refused.json()["issue"][0]["diagnostics"]

    def review(outcome: str, token: str | None = None) -> Any:
        said = [
            {"name": "outcome", "valueCode": outcome},
            {
                "name": "summary",
                "valueString": f"Pain MDT: {outcome}; diazepam to be reduced after the opioid",
            },
            {"name": "date", "valueDate": "2026-04-01"},
            {"name": "appointment", "valueReference": {"reference": "Appointment/mdt-2026-04"}},
        ]
        return medreview.post(
            f"/fhir/Patient/{patient}/$record-mdt-review", {**PARAMS, "parameter": said}, token
        )

    worker = mint_local_token(
        medreview.system.auth,
        practice=PRACTICE,
        scope="system/*.cruds",
        role="project-worker",
        practices=[PRACTICE],
    )
    assert review("taper-agreed", worker).status_code == 403
    assert medreview.post(f"/fhir/Patient/{patient}/$propose-taper", body).status_code == 422
    prescriber = mint_local_token(
        medreview.system.auth, practice=PRACTICE, scope="system/*.cruds", role="prescriber"
    )
    against = review("taper-not-advised", prescriber)
    assert against.status_code == 200 and against.json()["status"] == "completed"
    still = medreview.post(f"/fhir/Patient/{patient}/$propose-taper", body)
    assert still.status_code == 422 and "advised against" in still.json()["issue"][0]["diagnostics"]
    agreed = review("taper-agreed", prescriber).json()
    assert agreed["focus"] == {"reference": "Appointment/mdt-2026-04"}
    assert agreed["input"] == [
        {"type": {"text": "gate"}, "valueString": "a benzodiazepine prescribed with the opioid"}
    ]
    proposed = medreview.post(f"/fhir/Patient/{patient}/$propose-taper", body)
    assert proposed.status_code == 200, proposed.text
    assert f"Task/{agreed['id']} of 2026-04-01 agreed a taper" in proposed.json()["note"][0]["text"]


def test_a_withdrawal_score_posted_to_medreview_pauses_the_plan(medreview: Medreview) -> None:
    patient, careplan = start(medreview)
    score = {
        "resourceType": "Observation",
        "status": "final",
        "code": {
            "coding": [
                {
                    "system": "https://pain-review.example.org/fhir/CodeSystem/medreview-observation",
                    "code": "sows-total",
                }
            ]
        },
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2026-04-10",
        "valueInteger": 17,
    }
    assert medreview.post("/fhir/Observation", score).status_code == 201
    plan = medreview.get(f"/fhir/CarePlan/{careplan['id']}").json()
    assert plan["status"] == "on-hold" and "withdrawal score 17" in plan["note"][-1]["text"]
    [paused] = medreview.events("taper.paused.v1", f"CarePlan/{careplan['id']}")
    assert taper_parts(paused["data"])[0]["status"] == "on-hold"
    pending = [s for s in steps(medreview, plan) if s.pending]
    assert pending[0].date.isoformat() == "2026-04-10"
    assert all(s.total <= 120 for s in pending)
    none_open = medreview.get(
        "/fhir/Task", patient=f"Patient/{patient}", status="requested", code="approve-taper-step"
    )
    assert none_open.json()["total"] == 0
    resumed = medreview.post(
        f"/fhir/CarePlan/{careplan['id']}/$resume",
        {**PARAMS, "parameter": [{"name": "date", "valueDate": "2026-05-01"}]},
    )
    assert resumed.status_code == 200 and resumed.json()["status"] == "draft"
    assert approval_task(medreview, patient)


def test_the_patient_can_ask_to_pause_and_a_paused_plan_cannot_pause_again(medreview: Medreview) -> None:
    _, careplan = start(medreview)
    ask = {**PARAMS, "parameter": [{"name": "reason", "valueString": "Moving house this month"}]}
    paused = medreview.post(f"/fhir/CarePlan/{careplan['id']}/$pause", ask)
    assert paused.status_code == 200 and paused.json()["status"] == "on-hold"
    assert "Moving house" in paused.json()["note"][-1]["text"]
    assert medreview.post(f"/fhir/CarePlan/{careplan['id']}/$pause", ask).status_code == 409
    assert medreview.post(f"/fhir/CarePlan/{careplan['id']}/$pause", PARAMS).status_code == 400


def test_a_second_plan_while_one_is_open_is_a_conflict_and_another_practice_sees_nothing(
    medreview: Medreview,
) -> None:
    patient, careplan = start(medreview)
    again = medreview.post(f"/fhir/Patient/{patient}/$propose-taper", PARAMS)
    assert again.status_code == 409
    other = medreview.other_practice_token()
    assert medreview.get(f"/fhir/CarePlan/{careplan['id']}", token=other).status_code == 404
    assert medreview.post(f"/fhir/Patient/{patient}/$propose-taper", PARAMS, token=other).status_code == 404


def test_a_discharge_ends_the_open_plan_and_withdraws_its_proposed_steps(medreview: Medreview) -> None:
    patient, careplan = start(medreview)
    task = approval_task(medreview, patient)
    episode = {
        "resourceType": "EpisodeOfCare",
        "id": f"ep-{patient}",
        "status": "finished",
        "patient": {"reference": f"Patient/{patient}"},
        "period": {"start": "2026-01-05", "end": "2026-04-20"},
    }
    medreview.publish("referral", PATIENT_DISCHARGED_V1, episode, f"EpisodeOfCare/ep-{patient}")
    plan = eventually(
        lambda: (
            p
            if (p := medreview.get(f"/fhir/CarePlan/{careplan['id']}").json())["status"] == "revoked"
            else None
        )
    )
    assert plan["period"]["end"] == "2026-04-20" and not any(s.pending for s in steps(medreview, plan))
    assert medreview.get(f"/fhir/Task/{task['id']}").json()["status"] == "cancelled"


def test_the_cpl3_check_finds_an_activity_with_both_a_reference_and_a_detail() -> None:
    both = {"reference": {"reference": "MedicationRequest/x"}, "detail": {"status": "not-started"}}
    plan = {"resourceType": "CarePlan", "id": "c", "activity": [{"detail": {}}, both]}
    assert cpl3_violations(plan) == ["cpl-3: CarePlan (CarePlan/c) activity[1] has both reference and detail"]
    bundle = {"resourceType": "Bundle", "entry": [{"resource": plan}]}
    assert cpl3_violations(bundle) and not cpl3_violations({**plan, "activity": [both["detail"]]})


def test_every_resource_medreview_emits_and_every_taper_plan_it_keeps_is_valid_r4_and_keeps_cpl3(
    medreview: Medreview,
) -> None:
    patient, careplan = start(medreview)  # at least one plan, whichever tests ran before
    answer = {
        **approval_task(medreview, patient),
        "status": "completed",
        "businessStatus": {"text": "approved"},
    }
    medreview.publish("gpconnect", GP_TASK_COMPLETED_V1, answer, f"Task/{answer['id']}")
    eventually(lambda: medreview.events("taper.approved.v1", f"CarePlan/{careplan['id']}"))
    with medreview.system.services["medreview"].engine.connect() as conn:
        events = [from_json(row.payload) for row in conn.execute(sa.select(outbox.c.payload))]
    assert {"taper.proposed.v1", "taper.approved.v1", "gp.task-requested.v1"} <= {e.type for e in events}
    for event in events:
        validate_resource(event.data)
        assert_invariants(event.data)
        if event.type.startswith("taper."):
            assert event.data["resourceType"] == "Bundle"
    plans = medreview.get("/fhir/CarePlan", _count="100").json()
    assert plans["total"] >= 1
    for entry in plans["entry"]:
        validate_resource(entry["resource"], "CarePlan")
        assert_invariants(entry["resource"])
