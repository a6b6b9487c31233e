"""The monthly MDT over the API: one meeting per practice per month whose agenda (a List) is built from the
patients who need it - from medreview.completed (total OME, risk flags) and taper events - and each item's
outcome recorded on the agenda and in the patient's plan."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.careplan.domain.mdt import MDT_OUTCOME_SYSTEM
from services.careplan.tables import medication_review
from shared.auth import mint_local_token
from shared.contracts import (
    MEDREVIEW_COMPLETED_V1,
    PATIENT_ENROLLED_V1,
    TAPER_PAUSED_V1,
    TAPER_PROPOSED_V1,
    from_json,
)
from shared.outbox import outbox
from tests.support import eventually
from tests.support.careplan import (
    Careplan,
    assert_round_trips,
    enrol_patient,
    enrolment,
    publish_review,
    wait_for_review,
)

REASON_URL = "https://pain-review.example.org/fhir/StructureDefinition/mdt-reason"
MONTH = {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2024-03"}]}


def _taper(patient: str, status: str, note: str | None = None) -> dict[str, Any]:
    taper: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": f"taper-{patient}",
        "status": status,
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient}"},
        "activity": [{"detail": {"status": "not-started", "scheduledPeriod": {"start": "2024-03-04"}}}],
    }
    if note:
        taper["note"] = [{"text": note}]
    return taper


def _notes(careplan: Careplan, patient: str, count: int) -> bool:
    plan = next(iter(careplan.search("CarePlan", patient=f"Patient/{patient}")), {})
    activity = next((a for a in plan.get("activity", []) if a.get("id") == "de-scripting"), {})
    return len(activity.get("progress", [])) == count


def _reviews_seen(careplan: Careplan, count: int) -> bool:
    with careplan.system.services["careplan"].engine.connect() as conn:
        return len(conn.execute(select(medication_review.c.id)).all()) == count


def _wait_reviews(careplan: Careplan, count: int) -> None:
    eventually(lambda: _reviews_seen(careplan, count))


def _agenda(careplan: Careplan, body: dict[str, Any] = MONTH) -> tuple[dict[str, Any], dict[str, Any]]:
    answer = careplan.post("/Appointment/$mdt-agenda", body)
    assert answer.status_code == 200, answer.text
    meeting, agenda = (e["resource"] for e in answer.json()["entry"])
    return meeting, agenda


def _reasons(agenda: dict[str, Any]) -> dict[str, list[str]]:
    return {
        e["item"]["reference"]: [
            x["valueCodeableConcept"]["coding"][0]["code"] for x in e["extension"] if x["url"] == REASON_URL
        ]
        for e in agenda.get("entry", [])
    }


def test_the_monthly_agenda_lists_the_patients_who_need_the_mdt_with_their_reasons_and_records_outcomes(
    careplan: Careplan,
) -> None:
    plans = {p: enrol_patient(careplan, p) for p in ("hd", "bz", "lb", "pz", "rs", "ok")}
    other = Careplan(careplan.system, careplan.client, practice="B82002")
    other.publish(
        "referral", PATIENT_ENROLLED_V1, "EpisodeOfCare/ep-elsewhere", enrolment("elsewhere", "ep-x")
    )

    publish_review(
        careplan, "hd", 1, 320, "ome-high-dose", "ome-specialist-advice", when="2024-02-01T10:00:00Z"
    )
    publish_review(careplan, "bz", 1, 90, "opioid-benzodiazepine", when="2024-02-02T10:00:00Z")
    # Only a lower bound (a dose not computable), no flag: "at least 310" is still 300 or more.
    publish_review(careplan, "lb", 1, 310, "ome-not-computable", at_least=True, when="2024-02-03T10:00:00Z")
    publish_review(careplan, "ok", 1, 60, when="2024-02-04T10:00:00Z")
    other.publish(
        "medreview",
        MEDREVIEW_COMPLETED_V1,
        "Observation/ome-elsewhere-1",
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Observation",
                        "id": "ome-elsewhere-1",
                        "status": "final",
                        "code": {"text": "Total daily oral morphine equivalent"},
                        "subject": {"reference": "Patient/elsewhere"},
                        "valueQuantity": {"value": 400, "unit": "mg/d", "code": "mg/d"},
                    }
                }
            ],
        },
    )
    careplan.publish("medreview", TAPER_PROPOSED_V1, "CarePlan/taper-pz", _taper("pz", "draft"))
    careplan.publish(
        "medreview", TAPER_PAUSED_V1, "CarePlan/taper-pz", _taper("pz", "on-hold", "Withdrawal symptoms")
    )
    # A taper proposed, then reviews (timed by their events, after the proposal): 200, 150, then 180 mg/day.
    careplan.publish("medreview", TAPER_PROPOSED_V1, "CarePlan/taper-rs", _taper("rs", "draft"))
    eventually(lambda: _notes(careplan, "rs", 1))
    for n, mg in enumerate((200, 150, 180)):
        publish_review(careplan, "rs", n, mg)
        _wait_reviews(careplan, 5 + n + 1)
    eventually(lambda: _notes(careplan, "pz", 2))

    meeting, agenda = _agenda(careplan)
    assert _reasons(agenda) == {
        "Patient/bz": ["benzodiazepine"],
        "Patient/hd": ["high-dose"],
        "Patient/lb": ["high-dose"],
        "Patient/pz": ["taper-paused"],
        "Patient/rs": ["dose-rising"],
    }
    texts = {
        e["item"]["reference"]: [
            x["valueCodeableConcept"]["text"] for x in e["extension"] if x["url"] == REASON_URL
        ]
        for e in agenda["entry"]
    }
    assert texts["Patient/hd"] == ["Total daily OME 320 mg/day at the review of 2024-02-01"]
    assert texts["Patient/lb"] == ["Total daily OME at least 310 mg/day at the review of 2024-02-03"]
    assert texts["Patient/pz"] == ["Dose reduction paused: Withdrawal symptoms."]
    assert texts["Patient/rs"][0].startswith("Total daily OME rose to 180 mg/day")
    assert "from 150 mg/day" in texts["Patient/rs"][0]
    plan_link = next(x for x in agenda["entry"][1]["extension"] if x["url"].endswith("mdt-plan"))
    assert plan_link["valueReference"] == {"reference": f"CarePlan/{plans['hd']['id']}"}

    assert meeting["start"] == "2024-03-06T12:30:00Z"  # first Wednesday at CAREPLAN_MDT_TIME
    assert meeting["supportingInformation"] == [{"reference": f"List/{agenda['id']}"}]
    actors = [p["actor"] for p in meeting["participant"]]
    assert {"reference": "Practitioner/gp1", "display": "Dr A Example"} in actors
    assert not any(str(a.get("reference", "")).startswith("Patient/") for a in actors)
    assert_round_trips(meeting)
    assert_round_trips(agenda)

    # Asked again: the same meeting and agenda, unchanged.
    again_meeting, again = _agenda(careplan)
    assert (again_meeting["id"], again["id"]) == (meeting["id"], agenda["id"])
    assert again["meta"]["versionId"] == agenda["meta"]["versionId"]

    # The outcome for one patient: the item's flag, a note and a link in their plan, careplan.updated.
    outcome = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "valueReference": {"reference": "Patient/hd"}},
            {"name": "outcome", "valueCode": "slow-taper"},
            {"name": "note", "valueString": "Reduce by 10% a month; pain consultant to review in 3 months."},
        ],
    }
    recorded = careplan.post(
        f"/List/{agenda['id']}/$record-mdt-outcome", outcome, **{"x-request-id": "mdt-hd"}
    )
    assert recorded.status_code == 200, recorded.text
    listed, plan = (e["resource"] for e in recorded.json()["entry"])
    item = next(e for e in listed["entry"] if e["item"]["reference"] == "Patient/hd")
    assert item["flag"]["coding"][0] == {
        "system": MDT_OUTCOME_SYSTEM,
        "code": "slow-taper",
        "display": "Slow the taper",
    }
    assert plan["id"] == plans["hd"]["id"]
    assert plan["note"][-1]["text"] == (
        "MDT agenda 2024-03: Slow the taper. Reduce by 10% a month; pain consultant to review in 3 months."
    )
    assert {"reference": f"List/{agenda['id']}", "display": "MDT agenda 2024-03"} in plan["supportingInfo"]
    with careplan.system.services["careplan"].engine.connect() as conn:
        rows = conn.execute(select(outbox.c.payload).where(outbox.c.type == "careplan.updated.v1")).all()
    assert any(from_json(r.payload).data.get("note") == plan["note"] for r in rows)
    assert (
        careplan.post(
            f"/List/{agenda['id']}/$record-mdt-outcome", outcome, **{"x-request-id": "mdt-hd"}
        ).status_code
        == 409
    )

    wrong = {**outcome, "parameter": [outcome["parameter"][0], {"name": "outcome", "valueCode": "stop-all"}]}
    assert careplan.post(f"/List/{agenda['id']}/$record-mdt-outcome", wrong).status_code == 400
    absent = {
        **outcome,
        "parameter": [
            {"name": "patient", "valueReference": {"reference": "Patient/ok"}},
            outcome["parameter"][1],
        ],
    }
    not_on = careplan.post(f"/List/{agenda['id']}/$record-mdt-outcome", absent)
    assert not_on.status_code == 422 and "not on this agenda" in not_on.text

    # A new fact later in the month adds the patient; the decided item is kept as it was.
    publish_review(careplan, "ok", 2, 60, "opioid-benzodiazepine", when="2024-02-20T10:00:00Z")
    _wait_reviews(careplan, 9)
    _, refreshed = _agenda(careplan)
    assert _reasons(refreshed)["Patient/ok"] == ["benzodiazepine"]
    kept = next(e for e in refreshed["entry"] if e["item"]["reference"] == "Patient/hd")
    assert kept == item

    # The other practice's agenda has its own patient only.
    _, theirs = _agenda(other)
    assert list(_reasons(theirs)) == ["Patient/elsewhere"]


def test_recording_an_outcome_needs_the_right_to_update_the_plan_it_is_written_into(
    careplan: Careplan,
) -> None:
    enrol_patient(careplan, "sc")
    publish_review(careplan, "sc", 1, 90, "opioid-benzodiazepine", when="2024-04-01T10:00:00Z")
    wait_for_review(careplan, "Observation/ome-sc-1")
    april = {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2024-05"}]}
    _, agenda = _agenda(careplan, april)
    assert "Patient/sc" in _reasons(agenda)
    narrow = mint_local_token(careplan.system.auth, practice="A81001", scope="system/List.u system/List.r")
    outcome = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "valueReference": {"reference": "Patient/sc"}},
            {"name": "outcome", "valueCode": "continue-plan"},
        ],
    }
    refused = careplan.client.post(
        f"/careplan/fhir/List/{agenda['id']}/$record-mdt-outcome",
        json=outcome,
        headers={"authorization": f"Bearer {narrow}", "content-type": "application/fhir+json"},
    )
    assert refused.status_code == 403 and "CarePlan" in refused.text
    entries = careplan.get(f"/List/{agenda['id']}").json()["entry"]
    assert "flag" not in next(e for e in entries if e["item"]["reference"] == "Patient/sc")


def test_an_item_deferred_this_month_is_carried_to_the_next_months_agenda(careplan: Careplan) -> None:
    enrol_patient(careplan, "df")
    publish_review(careplan, "df", 1, 90, "opioid-benzodiazepine", when="2024-06-01T10:00:00Z")
    wait_for_review(careplan, "Observation/ome-df-1")
    june = {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2024-06"}]}
    _, agenda = _agenda(careplan, june)
    deferred = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "patient", "valueReference": {"reference": "Patient/df"}},
            {"name": "outcome", "valueCode": "deferred"},
        ],
    }
    assert careplan.post(f"/List/{agenda['id']}/$record-mdt-outcome", deferred).status_code == 200
    # The benzodiazepine stopped before July's agenda: the deferred item is carried over all the same.
    publish_review(careplan, "df", 2, 90, when="2024-06-20T10:00:00Z")
    wait_for_review(careplan, "Observation/ome-df-2")
    july = {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2024-07"}]}
    _, next_month = _agenda(careplan, july)
    assert _reasons(next_month)["Patient/df"] == ["carried-over"]


def test_a_methadone_flag_from_medreview_puts_the_patient_on_the_agenda(careplan: Careplan) -> None:
    """Through the event, not a hand-built one: the referral's list holds methadone 1 mg/ml (substitution
    therapy, DHSC 2017 "Orange book"); medreview's own review raises its ``methadone`` and
    ``opioid-substitution-therapy`` DetectedIssues (its two taper gates) and announces them with
    ``medreview.completed``; careplan's agenda lists both reasons for the patient."""
    patient = "mdt-methadone-1"
    enrolled = enrolment(patient, f"ep-{patient}")
    methadone = {
        "resourceType": "MedicationRequest",
        "id": f"{patient}-mth",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient}"},
        "medicationCodeableConcept": {"text": "Methadone 1mg/ml oral solution sugar free"},
        "dosageInstruction": [{"text": "30ml once daily"}],
    }
    enrolled["entry"].append({"fullUrl": f"MedicationRequest/{methadone['id']}", "resource": methadone})
    careplan.publish("referral", PATIENT_ENROLLED_V1, f"EpisodeOfCare/ep-{patient}", enrolled)
    eventually(lambda: next(iter(careplan.search("CarePlan", patient=f"Patient/{patient}")), None))
    review = eventually(
        lambda: (
            (
                r := careplan.client.post(
                    f"/medreview/fhir/Patient/{patient}/$medication-review",
                    json={"resourceType": "Parameters"},
                    headers=careplan.headers(),
                )
            ).status_code
            == 200
            and r.json()
        )
    )
    observation = next(p for p in review["parameter"] if p["name"] == "observation")["valueReference"]
    wait_for_review(careplan, observation["reference"])

    _, agenda = _agenda(
        careplan, {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2025-01"}]}
    )
    assert _reasons(agenda)[f"Patient/{patient}"] == ["methadone", "opioid-substitution"]
    entry = next(e for e in agenda["entry"] if e["item"]["reference"] == f"Patient/{patient}")
    [reason] = [
        x["valueCodeableConcept"]
        for x in entry["extension"]
        if x["url"] == REASON_URL
        if x["valueCodeableConcept"]["coding"][0]["code"] == "methadone"
    ]
    assert reason["text"].startswith("Methadone is prescribed (no fixed OME; a reduction is a specialist's)")
