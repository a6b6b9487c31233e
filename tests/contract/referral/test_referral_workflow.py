"""The referral workflow after triage, through the Task operations: every allowed move, refusals of the
others, and the events each move records (patient.invited, patient.enrolled, patient.discharged)."""

from __future__ import annotations

from typing import Any

from tests.support.bars import addressed_to, eligible_referral, example, fresh
from tests.support.referral import Referral


def params(**values: Any) -> dict[str, Any]:
    parameters = []
    for name, value in values.items():
        kind = {bool: "valueBoolean", str: "valueString"}[type(value)]
        if name in ("status",):
            kind = "valueCode"
        if name in ("date", "start", "end"):
            kind = "valueDate"
        parameters.append({"name": name, kind: value})
    return {"resourceType": "Parameters", "parameter": parameters}


def eligible_task(referral: Referral) -> dict[str, Any]:
    location = referral.post("$process-message", eligible_referral(referral.endpoint)).headers["location"]
    return referral.task_for(location.rsplit("/", 1)[1])


def state(task: dict[str, Any]) -> str:
    return str(task["businessStatus"]["coding"][0]["code"])


def current(referral: Referral, task: dict[str, Any]) -> dict[str, Any]:
    return referral.get(f"Task/{task['id']}").json()  # type: ignore[no-any-return]


def test_an_eligible_referral_goes_from_invitation_to_discharge(referral: Referral) -> None:
    task = eligible_task(referral)
    assert state(task) == "eligible"
    letter = referral.post(f"Task/{task['id']}/$invite", params())
    assert letter.status_code == 200, letter.text
    communication = letter.json()
    assert communication["resourceType"] == "Communication"
    assert communication["basedOn"] == [task["focus"]]
    assert "Dear Mrs Julie Jones" in communication["payload"][0]["contentString"]
    assert state(current(referral, task)) == "invited"
    [invited] = referral.events("patient.invited")
    assert invited["data"]["id"] == communication["id"]
    assert invited["subject"] == f"Communication/{communication['id']}"

    consent = referral.post(
        f"Task/{task['id']}/$record-consent", params(consented=True, date="2024-07-01")
    ).json()
    assert consent["resourceType"] == "Consent" and consent["status"] == "active"
    assert consent["patient"] == task["for"]

    episode = referral.post(f"Task/{task['id']}/$enrol", params(start="2024-07-10")).json()
    assert episode["status"] == "active"
    assert episode["period"] == {"start": "2024-07-10", "end": "2026-07-10"}
    assert episode["managingOrganization"]["identifier"]["value"] == referral.practice
    [enrolled] = referral.events("patient.enrolled")
    kinds = [e["resource"]["resourceType"] for e in enrolled["data"]["entry"]]
    assert kinds[:4] == ["EpisodeOfCare", "Patient", "ServiceRequest", "Consent"]
    assert kinds.count("MedicationRequest") == 12 and "Condition" in kinds
    assert all(
        e["fullUrl"] == f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in enrolled["data"]["entry"]
    )

    finished = referral.post(
        f"Task/{task['id']}/$discharge", params(date="2025-03-01", note="Goals met")
    ).json()
    assert finished["status"] == "finished" and finished["period"]["end"] == "2025-03-01"
    [discharged] = referral.events("patient.discharged")
    assert discharged["data"]["status"] == "finished"
    final = current(referral, task)
    assert state(final) == "discharged" and final["status"] == "completed"
    assert referral.get(task["focus"]["reference"]).json()["status"] == "completed"
    history = referral.get(f"Task/{task['id']}/_history", _count=20).json()
    states = [state(e["resource"]) for e in reversed(history["entry"])]
    assert states == ["received", "triaged", "eligible", "invited", "consented", "enrolled", "discharged"]


def test_moves_the_workflow_does_not_allow_are_conflicts(referral: Referral) -> None:
    task = eligible_task(referral)
    for operation, body in (
        ("$record-consent", params(consented=True)),
        ("$enrol", params()),
        ("$discharge", params()),
        ("$transition", params(status="declined")),
    ):
        response = referral.post(f"Task/{task['id']}/{operation}", body)
        assert response.status_code == 409, (operation, response.text)
        assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "REC_CONFLICT"
    assert state(current(referral, task)) == "eligible"
    assert referral.events("patient.invited", "patient.enrolled", "patient.discharged") == []


def test_a_move_with_effects_of_its_own_is_refused_by_transition(referral: Referral) -> None:
    task = eligible_task(referral)
    response = referral.post(f"Task/{task['id']}/$transition", params(status="invited"))
    assert response.status_code == 422
    assert "$invite" in response.json()["issue"][0]["diagnostics"]
    unknown = referral.post(f"Task/{task['id']}/$transition", params(status="approved"))
    assert unknown.status_code == 400


def test_an_enrolment_longer_than_two_years_is_refused(referral: Referral) -> None:
    task = eligible_task(referral)
    referral.post(f"Task/{task['id']}/$invite", params())
    referral.post(f"Task/{task['id']}/$record-consent", params(consented=True))
    response = referral.post(f"Task/{task['id']}/$enrol", params(start="2024-07-10", end="2026-07-11"))
    assert response.status_code == 422
    assert state(current(referral, task)) == "consented"


def test_a_patient_who_declines_is_recorded_with_a_rejected_consent_and_the_workflow_ends(
    referral: Referral,
) -> None:
    task = eligible_task(referral)
    referral.post(f"Task/{task['id']}/$invite", params())
    consent = referral.post(f"Task/{task['id']}/$record-consent", params(consented=False)).json()
    assert consent["status"] == "rejected" and consent["provision"]["type"] == "deny"
    assert state(current(referral, task)) == "declined"
    assert referral.post(f"Task/{task['id']}/$invite", params()).status_code == 409


def test_a_patient_who_does_not_answer_may_be_invited_again(referral: Referral) -> None:
    task = eligible_task(referral)
    referral.post(f"Task/{task['id']}/$invite", params())
    assert referral.post(f"Task/{task['id']}/$transition", params(status="no-response")).status_code == 200
    assert referral.post(f"Task/{task['id']}/$invite", params()).status_code == 200
    assert len(referral.events("patient.invited")) == 2


def test_a_review_decides_a_referral_that_needs_review_and_tells_the_other_services(
    referral: Referral,
) -> None:
    location = referral.post("$process-message", fresh(addressed_to(example(), referral.endpoint))).headers[
        "location"
    ]
    task = referral.task_for(location.rsplit("/", 1)[1])
    assert state(task) == "needs-review"
    response = referral.post(f"Task/{task['id']}/$transition", params(status="ineligible", note="Reviewed"))
    assert response.status_code == 200, response.text
    [rejected] = referral.events("referral.rejected")
    service_request, _patient, rejected_task, header = (e["resource"] for e in rejected["data"]["entry"])
    assert service_request["status"] == "revoked"
    assert state(rejected_task) == "ineligible"
    assert {c["code"] for c in rejected_task["statusReason"]["coding"]} >= {"medication-record-missing"}
    assert rejected_task["statusReason"]["text"] == "Reviewed"
    assert header["resourceType"] == "MessageHeader"
    assert referral.post(f"Task/{task['id']}/$transition", params(status="eligible")).status_code == 409


def test_workflow_resources_are_read_only_over_rest(referral: Referral) -> None:
    task = eligible_task(referral)
    changed = {**task, "businessStatus": {"text": "enrolled"}}
    response = referral.client.put(
        f"/referral/fhir/Task/{task['id']}", json=changed, headers=referral.headers()
    )
    assert response.status_code == 405
    assert referral.post("Task", {**task, "id": None}).status_code == 405


def test_the_capability_statement_documents_the_workflow_operations(referral: Referral) -> None:
    statement = referral.client.get("/referral/fhir/metadata").json()
    task = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Task")
    assert {o["name"] for o in task["operation"]} == {
        "transition",
        "invite",
        "record-consent",
        "enrol",
        "discharge",
    }
    assert {o["name"] for o in statement["rest"][0]["operation"]} == {"process-message", "screen"}


def test_a_task_operation_sent_twice_with_one_request_id_moves_the_referral_once(referral: Referral) -> None:
    """Each Task operation changes the referral, so a repeat of its X-Request-Id (a client retrying
    after a lost answer) is a 409 duplicate and writes no second letter or event."""
    task = eligible_task(referral)
    first = referral.post(f"Task/{task['id']}/$invite", params(), request_id="invite-once-1")
    assert first.status_code == 200, first.text
    repeat = referral.post(f"Task/{task['id']}/$invite", params(), request_id="invite-once-1")
    assert repeat.status_code == 409, repeat.text
    assert repeat.json()["issue"][0]["code"] == "duplicate"
    assert len(referral.events("patient.invited")) == 1
    assert state(current(referral, task)) == "invited"
