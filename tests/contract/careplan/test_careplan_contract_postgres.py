"""The careplan service alone on PostgreSQL: concurrent community referrals never overspend a
patient's budget (the plan row is locked per spend decision), and the evaluation's queries run."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.careplan.app import create_service
from services.careplan.settings import CareplanSettings
from shared.bus import InProcessTransport
from shared.web import ServiceParts
from tests.support.auth import HeaderAuthenticator, as_practice
from tests.support.careplan import community_referral

pytestmark = pytest.mark.integration


@pytest.fixture
def service(pg_url: str, tmp_path: Path) -> Iterator[tuple[ServiceParts, TestClient]]:
    settings = CareplanSettings(database_url=pg_url, var_dir=tmp_path)
    parts = create_service(settings, authenticator=HeaderAuthenticator(), transport=InProcessTransport())
    headers = {"content-type": "application/fhir+json", **as_practice("A81001")}
    with TestClient(parts.app, headers=headers) as client:
        yield parts, client
    parts.engine.dispose()


def test_concurrent_referrals_that_together_exceed_the_budget_are_not_both_accepted(
    service: tuple[ServiceParts, TestClient],
) -> None:
    _parts, client = service
    plan = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "category": [
            {
                "coding": [
                    {
                        "system": "https://pain-review.example.org/fhir/CodeSystem/careplan-category",
                        "code": "pain-management",
                    }
                ]
            }
        ],
        "subject": {"reference": "Patient/pg1"},
    }
    assert client.post("/fhir/CarePlan", json=plan).status_code == 201
    requests = [
        community_referral("pg1", "physiotherapy", "150.00"),
        community_referral("pg1", "relaxation-group", "150.00"),
    ]
    for _ in range(3):  # a few rounds: the race must never let both through
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(
                pool.map(lambda body: client.post("/fhir/ServiceRequest", json=body).status_code, requests)
            )
        assert statuses in ([201, 422], [422, 422])
    committed = client.get("/fhir/ServiceRequest", params={"patient": "Patient/pg1"}).json()["total"]
    assert committed == 1


def test_the_evaluation_runs_on_postgresql(service: tuple[ServiceParts, TestClient]) -> None:
    _parts, client = service
    response = client.get(
        "/fhir/Measure/service-evaluation/$evaluate-measure",
        params={"periodStart": "2024-01-01", "periodEnd": "2024-12-31"},
    )
    assert response.status_code == 200
    recruitment = {
        p["code"]["coding"][0]["code"]: p["count"] for p in response.json()["group"][0]["population"]
    }
    assert recruitment["enrolled"] == 0
    assert client.get("/fhir/CodeSystem", params={"name": "PainReviewIntervention"}).json()["total"] == 1


def _pain_plan(client: TestClient, patient: str) -> None:
    plan = {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "category": [
            {
                "coding": [
                    {
                        "system": "https://pain-review.example.org/fhir/CodeSystem/careplan-category",
                        "code": "pain-management",
                    }
                ]
            }
        ],
        "subject": {"reference": patient},
    }
    assert client.post("/fhir/CarePlan", json=plan).status_code == 201


def test_two_patients_booking_the_last_place_at_once_never_both_get_it(
    service: tuple[ServiceParts, TestClient],
) -> None:
    _parts, client = service
    for patient in ("Patient/pb1", "Patient/pb2"):
        _pain_plan(client, patient)
    schedule = client.post("/fhir/Schedule", json={"resourceType": "Schedule", "actor": [{"display": "PW"}]})
    for _ in range(3):  # a few rounds: the race must never book past capacity
        slot = client.post(
            "/fhir/Slot",
            json={
                "resourceType": "Slot",
                "schedule": {"reference": f"Schedule/{schedule.json()['id']}"},
                "status": "free",
                "start": "2024-03-05T18:30:00Z",
                "end": "2024-03-05T20:00:00Z",
            },
        ).json()

        def book(patient: str, slot_id: str = slot["id"]) -> int:
            body = {
                "resourceType": "Parameters",
                "parameter": [{"name": "patient", "valueReference": {"reference": patient}}],
            }
            return client.post(f"/fhir/Slot/{slot_id}/$book", json=body).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(book, ("Patient/pb1", "Patient/pb2")))
        assert statuses == [200, 422]
        booked = client.get("/fhir/Appointment", params={"slot": f"Slot/{slot['id']}"}).json()["total"]
        assert booked == 1


def test_the_mdt_agenda_runs_on_postgresql(service: tuple[ServiceParts, TestClient]) -> None:
    _parts, client = service
    _pain_plan(client, "Patient/pm1")
    body = {"resourceType": "Parameters", "parameter": [{"name": "month", "valueString": "2024-03"}]}
    response = client.post("/fhir/Appointment/$mdt-agenda", json=body)
    assert response.status_code == 200, response.text
    agenda = response.json()["entry"][1]["resource"]
    assert agenda["resourceType"] == "List" and "entry" not in agenda
