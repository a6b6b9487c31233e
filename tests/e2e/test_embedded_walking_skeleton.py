"""On a fresh folder, ``pain-review up`` serves every service; a token from the CLI opens the API."""

from __future__ import annotations

import httpx
import pytest

from shared.fhir.models import validate_resource
from tests.e2e.running import RunningSystem

pytestmark = pytest.mark.e2e
FHIR = "application/fhir+json"


@pytest.mark.parametrize("service", ["referral", "careplan", "medreview"])
def test_each_service_publishes_a_valid_capability_statement(
    embedded_system: RunningSystem, service: str
) -> None:
    response = httpx.get(f"{embedded_system.base}/{service}/fhir/metadata")
    assert response.status_code == 200
    statement = response.json()
    validate_resource(statement, "CapabilityStatement")
    assert statement["url"].startswith(f"{embedded_system.base}/{service}/fhir")


def test_a_resource_is_created_read_versioned_updated_found_and_paged(embedded_system: RunningSystem) -> None:
    token = embedded_system.token()
    with httpx.Client(
        base_url=f"{embedded_system.base}/careplan/fhir",
        headers={"authorization": f"Bearer {token}", "content-type": FHIR},
    ) as api:
        goal = {
            "resourceType": "Goal",
            "lifecycleStatus": "proposed",
            "description": {"text": "Walk to the shop"},
            "subject": {"reference": "Patient/p1"},
        }
        created = api.post("/Goal", json=goal)
        assert created.status_code == 201
        stored = created.json()
        assert api.get(f"/Goal/{stored['id']}").headers["etag"] == 'W/"1"'
        updated = api.put(
            f"/Goal/{stored['id']}",
            json={**stored, "lifecycleStatus": "active"},
            headers={"if-match": 'W/"1"'},
        )
        assert updated.status_code == 200 and updated.json()["meta"]["versionId"] == "2"
        stale = api.put(f"/Goal/{stored['id']}", json=stored, headers={"if-match": 'W/"1"'})
        assert stale.status_code == 412
        for n in range(3):
            api.post("/Goal", json={**goal, "description": {"text": f"Goal {n}"}})
        page = api.get("/Goal", params={"patient": "Patient/p1", "_count": 2}).json()
        assert page["total"] == 4
        next_url = next(link["url"] for link in page["link"] if link["relation"] == "next")
        assert next_url.startswith(f"{embedded_system.base}/careplan/fhir/Goal?")
        assert len(api.get(next_url).json()["entry"]) == 2
        assert api.get(f"/Goal/{stored['id']}/_history").json()["total"] == 2


def test_without_a_token_the_api_is_closed_but_health_is_open(embedded_system: RunningSystem) -> None:
    assert httpx.get(f"{embedded_system.base}/referral/fhir/Patient").status_code == 401
    assert httpx.get(f"{embedded_system.base}/referral/healthz").status_code == 200
    assert httpx.get(f"{embedded_system.base}/referral/readyz").status_code == 200


def test_a_practice_never_sees_another_practices_patients(embedded_system: RunningSystem) -> None:
    mine = {"authorization": f"Bearer {embedded_system.token('A81001')}", "content-type": FHIR}
    theirs = {"authorization": f"Bearer {embedded_system.token('B82002')}"}
    created = httpx.post(
        f"{embedded_system.base}/referral/fhir/Patient", json={"resourceType": "Patient"}, headers=mine
    ).json()
    assert (
        httpx.get(f"{embedded_system.base}/referral/fhir/Patient/{created['id']}", headers=theirs).status_code
        == 404
    )
    assert httpx.get(f"{embedded_system.base}/referral/fhir/Patient", headers=theirs).json()["total"] == 0


def test_discovery_and_tokens_name_the_address_up_serves_on(embedded_system: RunningSystem) -> None:
    """`up` on a port other than 8000 advertises that address (issue 16: discovery said localhost:8000
    whatever the real address), and a token from `pain-review token` is issued for it and accepted."""
    config = httpx.get(f"{embedded_system.base}/referral/fhir/.well-known/smart-configuration").json()
    assert config["token_endpoint"] == f"{embedded_system.base}/auth/token"
    token = embedded_system.token()
    read = httpx.get(
        f"{embedded_system.base}/referral/fhir/Patient", headers={"authorization": f"Bearer {token}"}
    )
    assert read.status_code == 200, read.text
