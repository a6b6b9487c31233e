"""The referral pathway over HTTP against ``pain-review up``: a BaRS referral in, eligibility, an
invitation letter as PDF, consent, enrolment and discharge; and a practice screened as streamed NDJSON."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from services.referral.settings import ReferralSettings
from tests.e2e.running import RunningSystem
from tests.support.bars import addressed_to, eligible_referral, example
from tests.support.referral_records import practice

pytestmark = pytest.mark.e2e
FHIR = "application/fhir+json"
ENDPOINT = str(ReferralSettings.model_fields["bars_endpoint"].default)


@pytest.fixture(scope="module")
def api(embedded_system: RunningSystem) -> Iterator[httpx.Client]:
    token = embedded_system.token(practice="E2E001")
    with httpx.Client(
        base_url=f"{embedded_system.base}/referral/fhir",
        headers={"authorization": f"Bearer {token}", "content-type": FHIR},
        timeout=60,
    ) as client:
        yield client


def send(api: httpx.Client, message: dict[str, Any]) -> httpx.Response:
    return api.post(
        "/$process-message", content=orjson.dumps(message), headers={"x-request-id": str(uuid.uuid4())}
    )


def parameters(**values: Any) -> dict[str, Any]:
    kinds = {bool: "valueBoolean", str: "valueString"}
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": k, kinds[type(v)]: v} for k, v in values.items()],
    }


def test_the_bars_example_is_accepted_over_http(api: httpx.Client) -> None:
    response = send(api, addressed_to(example(), ENDPOINT))
    assert response.status_code == 201, response.text
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "RESOURCE_CREATED"
    assert send(api, example()).status_code == 422  # addressed to someone else


def test_an_eligible_referral_is_invited_consented_enrolled_and_discharged(api: httpx.Client) -> None:
    created = send(api, eligible_referral(ENDPOINT, serial=41))
    assert created.status_code == 201, created.text
    service_request_id = created.headers["location"].rsplit("/", 1)[1]
    [task] = [
        e["resource"]
        for e in api.get("/Task", params={"focus": f"ServiceRequest/{service_request_id}"}).json()["entry"]
    ]
    assert task["businessStatus"]["coding"][0]["code"] == "eligible"
    letter = api.post(f"/Task/{task['id']}/$invite", json=parameters())
    assert letter.status_code == 200, letter.text
    pdf = api.get(f"/Communication/{letter.json()['id']}/$letter", headers={"accept": "application/pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert api.post(f"/Task/{task['id']}/$record-consent", json=parameters(consented=True)).status_code == 200
    episode = api.post(f"/Task/{task['id']}/$enrol", json=parameters()).json()
    assert episode["resourceType"] == "EpisodeOfCare" and episode["status"] == "active"
    finished = api.post(f"/Task/{task['id']}/$discharge", json=parameters(note="Finished"))
    assert finished.json()["status"] == "finished"
    assert api.post(f"/Task/{task['id']}/$invite", json=parameters()).status_code == 409


def test_a_practice_streamed_as_ndjson_is_ranked(api: httpx.Client) -> None:
    def body() -> Iterator[bytes]:
        for resource in practice(200):
            yield orjson.dumps(resource) + b"\n"

    response = api.post(
        "/$screen",
        content=body(),
        params={"date": "2024-06-15", "_count": "20"},
        headers={"content-type": "application/fhir+ndjson"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    totals = {p["name"]: p.get("valueInteger") for p in result["parameter"] if p["name"] != "patient"}
    assert totals["total"] == 200 and totals["returned"] == 20
    first = next(p for p in result["parameter"] if p["name"] == "patient")
    assert {"name": "rank", "valueInteger": 1} in first["part"]
