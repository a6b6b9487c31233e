"""``Prefer: return=`` on create and update (R4 http.html#ops): ``minimal`` is an empty body with the
Location, ETag and Last-Modified headers; ``OperationOutcome`` an informational OperationOutcome;
``representation`` (and no Prefer) the stored resource."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shared.fhir.models import validate_resource
from tests.support.kernel import FHIR, create, patient


def test_create_with_return_minimal_is_an_empty_201_with_its_headers(client: TestClient) -> None:
    response = client.post("/fhir/Patient", json=patient(), headers={**FHIR, "prefer": "return=minimal"})
    assert response.status_code == 201
    assert response.content == b""
    assert "content-type" not in response.headers
    location = response.headers["location"]
    assert "/fhir/Patient/" in location and location.endswith("/_history/1")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["last-modified"].endswith(" GMT")
    stored_id = location.split("/Patient/")[1].split("/")[0]
    assert client.get(f"/fhir/Patient/{stored_id}").status_code == 200


def test_update_with_return_minimal_is_an_empty_200(client: TestClient) -> None:
    stored = create(client, patient())
    response = client.put(
        f"/fhir/Patient/{stored['id']}",
        json={**stored, "gender": "female"},
        headers={**FHIR, "prefer": "return=minimal"},
    )
    assert response.status_code == 200 and response.content == b""
    assert response.headers["etag"] == 'W/"2"' and response.headers["last-modified"].endswith(" GMT")
    assert client.get(f"/fhir/Patient/{stored['id']}").json()["gender"] == "female"


def test_return_operation_outcome_is_an_informational_outcome(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient", json=patient(), headers={**FHIR, "prefer": "return=OperationOutcome"}
    )
    assert response.status_code == 201
    outcome = response.json()
    validate_resource(outcome, "OperationOutcome")
    assert outcome["issue"][0]["severity"] == "information"
    assert response.headers["etag"] == 'W/"1"' and "location" in response.headers
    assert response.headers["content-type"].startswith("application/fhir+json")
    stored_id = response.headers["location"].split("/Patient/")[1].split("/")[0]
    assert stored_id in outcome["issue"][0]["diagnostics"]
    updated = client.put(
        f"/fhir/Patient/{stored_id}",
        json={**patient(), "id": stored_id},
        headers={**FHIR, "prefer": "return=OperationOutcome"},
    )
    assert updated.status_code == 200 and updated.json()["resourceType"] == "OperationOutcome"


def test_representation_is_the_default_and_may_be_asked_for(client: TestClient) -> None:
    for prefer in ({}, {"prefer": "return=representation"}, {"prefer": "handling=strict"}):
        response = client.post("/fhir/Patient", json=patient(), headers={**FHIR, **prefer})
        assert response.status_code == 201 and response.json()["resourceType"] == "Patient"


def test_return_is_read_among_several_preferences(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient", json=patient(), headers={**FHIR, "prefer": "respond-async, return=minimal"}
    )
    assert response.status_code == 201 and response.content == b""
