"""Bad input gets the right status and an OperationOutcome, and the store is unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.kernel import FHIR, create, patient


def outcome(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert "Traceback" not in response.text
    return body


def count(client: TestClient, resource_type: str) -> int:
    total: int = client.get(f"/fhir/{resource_type}", params={"_summary": "count"}).json()["total"]
    return total


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "malformed"),
        (b"", "empty"),
        (b"[1, 2, 3]", "not an object"),
        (b"{}", "no resourceType"),
        (b'{"resourceType": "Patient", "birthDate": "not-a-date"}', "invalid value"),
        (b'{"resourceType": "Patient", "favouriteColour": "blue"}', "unknown element"),
        (b"[" * 200 + b"]" * 200, "nested too deep"),
    ],
)
def test_a_bad_body_is_400_and_stores_nothing(client: TestClient, body: bytes, why: str) -> None:
    response = client.post("/fhir/Patient", content=body, headers=FHIR)
    issue = outcome(response, 400)["issue"][0]
    assert issue["severity"] == "error", why
    assert count(client, "Patient") == 0


def test_a_patient_posted_to_the_service_request_endpoint_is_400(client: TestClient) -> None:
    response = client.post("/fhir/ServiceRequest", json=patient(), headers=FHIR)
    assert "Expected a ServiceRequest" in outcome(response, 400)["issue"][0]["diagnostics"]
    assert count(client, "ServiceRequest") == 0 and count(client, "Patient") == 0


def test_a_10mb_body_is_413(client: TestClient) -> None:
    big = b'{"resourceType": "Patient", "text": {"div": "' + b"x" * (10 * 1024 * 1024) + b'"}}'
    outcome(client.post("/fhir/Patient", content=big, headers=FHIR), 413)
    assert count(client, "Patient") == 0


def test_a_body_that_is_not_fhir_json_is_415(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient", content=b"<Patient/>", headers={"content-type": "application/xml"}
    )
    outcome(response, 415)


def test_an_unknown_search_parameter_is_400_naming_the_supported_ones(client: TestClient) -> None:
    body = outcome(client.get("/fhir/Patient", params={"shoe-size": "9"}), 400)
    assert "shoe-size" in body["issue"][0]["diagnostics"] and "identifier" in body["issue"][0]["diagnostics"]


def test_an_invalid_count_or_date_is_400(client: TestClient) -> None:
    outcome(client.get("/fhir/Patient", params={"_count": "lots"}), 400)
    outcome(client.get("/fhir/Patient", params={"birthdate": "yesterday"}), 400)


def test_unknown_ids_types_and_methods_are_404_404_and_405(client: TestClient) -> None:
    outcome(client.get("/fhir/Patient/no-such-id"), 404)
    outcome(client.get("/fhir/Spaceship/1"), 404)
    outcome(client.patch("/fhir/Patient/abc", json={}), 405)
    outcome(client.get("/fhir/Patient/bad$id"), 400)


def test_an_update_whose_body_id_differs_from_the_url_is_400_and_changes_nothing(client: TestClient) -> None:
    stored = create(client, patient())
    response = client.put(f"/fhir/Patient/{stored['id']}", json={**stored, "id": "other"}, headers=FHIR)
    outcome(response, 400)
    assert client.get(f"/fhir/Patient/{stored['id']}").json()["meta"]["versionId"] == "1"


def test_a_malformed_if_match_is_400(client: TestClient) -> None:
    stored = create(client, patient())
    response = client.put(
        f"/fhir/Patient/{stored['id']}", json=stored, headers={**FHIR, "if-match": "yesterday"}
    )
    outcome(response, 400)


def test_a_repeated_x_request_id_is_409_duplicate_and_processed_once(client: TestClient) -> None:
    headers = {**FHIR, "x-request-id": "3f2b0e7c-0001"}
    assert client.post("/fhir/Patient", json=patient(), headers=headers).status_code == 201
    body = outcome(client.post("/fhir/Patient", json=patient(), headers=headers), 409)
    assert body["issue"][0]["code"] == "duplicate"
    assert body["issue"][0]["details"]["coding"][0]["code"] == "REC_CONFLICT"
    assert count(client, "Patient") == 1


def test_request_and_correlation_ids_are_echoed_or_generated(client: TestClient) -> None:
    echoed = client.get("/fhir/metadata", headers={"x-request-id": "abc-1", "x-correlation-id": "corr-9"})
    assert echoed.headers["x-request-id"] == "abc-1" and echoed.headers["x-correlation-id"] == "corr-9"
    generated = client.get("/fhir/metadata", headers={"x-request-id": "bad id\r\nx: y"})
    assert generated.headers["x-request-id"] != "bad id" and len(generated.headers["x-correlation-id"]) == 36


def test_no_credentials_is_401_and_a_missing_scope_is_403(client: TestClient) -> None:
    outcome(client.get("/fhir/Patient", headers={"x-test-practice": ""}), 401)
    outcome(client.get("/fhir/Patient", headers={"x-test-scopes": "system/Observation.rs"}), 403)
    outcome(
        client.post("/fhir/Patient", json=patient(), headers={**FHIR, "x-test-scopes": "system/Patient.rs"}),
        403,
    )


def test_another_practice_cannot_read_update_delete_or_see_history(client: TestClient) -> None:
    stored = create(client, patient())
    other = {"x-test-practice": "B82002"}
    outcome(client.get(f"/fhir/Patient/{stored['id']}", headers=other), 404)
    outcome(client.get(f"/fhir/Patient/{stored['id']}/_history", headers=other), 404)
    outcome(client.get(f"/fhir/Patient/{stored['id']}/_history/1", headers=other), 404)
    outcome(client.delete(f"/fhir/Patient/{stored['id']}", headers=other), 404)
    outcome(client.put(f"/fhir/Patient/{stored['id']}", json=stored, headers={**FHIR, **other}), 404)
    assert client.get("/fhir/Patient", headers=other).json()["total"] == 0
    assert client.get(f"/fhir/Patient/{stored['id']}").json()["meta"]["versionId"] == "1"


def test_health_and_readiness_are_open(client: TestClient) -> None:
    assert client.get("/healthz", headers={"x-test-practice": ""}).json()["status"] == "ok"
    ready = client.get("/readyz", headers={"x-test-practice": ""})
    assert ready.status_code == 200 and ready.json()["checks"]["database"] is True


def test_an_unexpected_failure_is_a_500_outcome_without_a_stack_trace(db_url: str) -> None:
    from fastapi.testclient import TestClient as Client

    from shared.db import make_engine
    from shared.fhir import OperationCall, kernel_metadata
    from shared.web import service_app
    from tests.support.kernel import build_kernel

    engine = make_engine(db_url)
    kernel_metadata.create_all(engine)
    kernel = build_kernel(engine)

    async def explode(call: OperationCall) -> None:
        raise RuntimeError("secret internals: password=hunter2")

    kernel.operation("explode", explode, level="system", scope=("Patient", "r"))
    with Client(service_app(kernel, title="t"), raise_server_exceptions=False) as client:
        response = client.post(
            "/fhir/$explode",
            json={"resourceType": "Parameters"},
            headers={"x-test-practice": "A81001", **FHIR},
        )
    engine.dispose()
    body = outcome(response, 500)
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert body["issue"][0]["code"] == "exception"


def test_a_bundle_with_too_many_entries_is_413_before_anything_is_parsed_as_fhir(client: TestClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Basic"}}] * 1001,
    }
    outcome(client.post("/fhir/Patient", json=bundle, headers=FHIR), 413)
    assert count(client, "Patient") == 0
