"""The access matrix for service staff: a project worker assigned to a practice sees the data of the
patients enrolled with it, in every service, and nothing of its other patients (404 or an empty result,
includes and history too); writes to those are refused the same way; discharge ends the sight."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import orjson
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from shared.fhir.tenancy import record_enrolment
from tests.support import eventually
from tests.support.access import seed, send
from tests.support.bars import eligible_referral
from tests.support.tokens import Tokens

PRACTICE, OTHER = "F86006", "G87007"
T = TypeVar("T")


def _params(**values: str | bool) -> dict[str, Any]:
    kinds = {"consented": "valueBoolean", "date": "valueDate", "start": "valueDate"}
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": k, kinds.get(k, "valueString"): v} for k, v in values.items()],
    }


def _post(client: TestClient, token: str, path: str, body: Any) -> Any:
    headers = {
        "authorization": f"Bearer {token}",
        "content-type": "application/fhir+json",
        "x-request-id": str(uuid.uuid4()),
    }
    response = client.post(f"/referral/fhir/{path}", content=orjson.dumps(body), headers=headers)
    assert response.status_code in (200, 201), (path, response.text)
    return response


def _enrolled_task(system: EmbeddedSystem, client: TestClient, gp: str) -> dict[str, Any]:
    """A referral through the real workflow, up to enrolment (the GP system drives it here)."""
    endpoint = system.services["referral"].settings.bars_endpoint  # type: ignore[attr-defined]
    location = _post(client, gp, "$process-message", eligible_referral(endpoint, serial=61)).headers[
        "location"
    ]
    focus = f"ServiceRequest/{location.rsplit('/', 1)[1]}"
    bundle = client.get(
        "/referral/fhir/Task", params={"focus": focus}, headers={"authorization": f"Bearer {gp}"}
    )
    task: dict[str, Any] = bundle.json()["entry"][0]["resource"]
    _post(client, gp, f"Task/{task['id']}/$invite", _params())
    _post(client, gp, f"Task/{task['id']}/$record-consent", _params(consented=True, date="2024-07-01"))
    _post(client, gp, f"Task/{task['id']}/$enrol", _params(start="2024-07-10"))
    return task


def _entries(client: TestClient, token: str, url: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(url, params=params, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])]


def test_a_project_worker_sees_enrolled_patients_of_an_assigned_practice_only_until_discharge(
    secured: tuple[EmbeddedSystem, TestClient, Tokens],
) -> None:
    system, client, tokens = secured
    gp = tokens.valid(PRACTICE)
    task = _enrolled_task(system, client, gp)
    patient = task["for"]["reference"]
    patient_id = patient.removeprefix("Patient/")
    hidden = seed(client, gp)  # the same practice's patient, never enrolled
    elsewhere = seed(client, tokens.valid(OTHER))["referral/Patient"]["id"]
    with system.services["referral"].engine.begin() as conn:  # enrolled, but with a practice not assigned
        record_enrolment(
            conn,
            practice=OTHER,
            patient=f"Patient/{elsewhere}",
            episode="EpisodeOfCare/x",
            enrolled_at=_now(),
        )
    worker = tokens.sign(tokens.claims("Y01234", role="project-worker", practices=[PRACTICE]))

    # The enrolled patient, in every service that holds their data.
    assert send(client, "GET", f"/referral/fhir/Patient/{patient_id}", worker).status_code == 200
    assert send(client, "GET", f"/referral/fhir/Patient/{patient_id}/_history/1", worker).status_code == 200
    assert [p["id"] for p in _entries(client, worker, "/referral/fhir/Patient")] == [patient_id]
    assert eventually(lambda: _entries(client, worker, "/careplan/fhir/CarePlan", subject=patient))
    assert eventually(lambda: _entries(client, worker, "/medreview/fhir/MedicationRequest", subject=patient))
    plan = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "subject": {"reference": patient},
    }
    assert send(client, "POST", "/careplan/fhir/CarePlan", worker, plan).status_code == 201

    # The practice's patient who is not enrolled: nothing, whichever way it is asked for.
    for key, resource in hidden.items():
        service, resource_type = key.split("/")
        base, rid = f"/{service}/fhir/{resource_type}", resource["id"]
        for url in (f"{base}/{rid}", f"{base}/{rid}/_history", f"{base}/{rid}/_history/1"):
            assert send(client, "GET", url, worker).status_code == 404, url
        assert _entries(client, worker, base, _id=rid) == [], key
        assert send(client, "PUT", f"{base}/{rid}", worker, resource).status_code == 404, key
        assert send(client, "DELETE", f"{base}/{rid}", worker).status_code == 404, key
    hidden_patient = f"Patient/{hidden['referral/Patient']['id']}"
    refused = {**plan, "subject": {"reference": hidden_patient}}
    assert send(client, "POST", "/careplan/fhir/CarePlan", worker, refused).status_code == 404
    included = _entries(
        client,
        worker,
        "/referral/fhir/ServiceRequest",
        _include="ServiceRequest:patient",
        _revinclude="Task:focus",
    )
    ids = {r["id"] for r in included}
    assert patient_id in ids and task["id"] in ids
    assert not ids & {hidden["referral/Patient"]["id"], hidden["referral/ServiceRequest"]["id"], elsewhere}
    revincluded = _entries(client, worker, "/referral/fhir/Patient", _revinclude="ServiceRequest:subject")
    assert {r.get("subject", {}).get("reference", patient) for r in revincluded} == {patient}

    # Provenance follows its target: the enrolled patient's writes, none of the other patient's.
    def provenance_targets(token: str) -> set[str]:
        found = _entries(client, token, "/referral/fhir/Provenance", _count="100")
        return {t["reference"].split("/_history")[0] for p in found for t in p["target"]}

    hidden_writes = {f"{k.split('/')[1]}/{r['id']}" for k, r in hidden.items() if k.startswith("referral/")}
    assert hidden_writes <= provenance_targets(gp)
    assert patient in provenance_targets(worker)
    assert not hidden_writes & provenance_targets(worker)

    # The GP system still sees both of its patients: only staff are narrowed.
    assert len(_entries(client, gp, "/referral/fhir/Patient")) == 2

    # Discharged: the worker loses sight, in every service once the event has reached it.
    _post(client, gp, f"Task/{task['id']}/$discharge", _params(date="2025-03-01"))
    assert send(client, "GET", f"/referral/fhir/Patient/{patient_id}", worker).status_code == 404
    assert _entries(client, worker, "/referral/fhir/Patient") == []
    assert eventually(lambda: not _entries(client, worker, "/careplan/fhir/CarePlan", subject=patient))
    assert eventually(
        lambda: not _entries(client, worker, "/medreview/fhir/MedicationRequest", subject=patient)
    )
    assert _entries(client, gp, "/careplan/fhir/CarePlan", subject=patient)  # the practice keeps its data


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
