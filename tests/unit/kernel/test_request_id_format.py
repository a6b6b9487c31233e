"""A supplied ``X-Request-Id`` is never swapped for a random one on a write: a malformed id is a 400
naming the header and its format (a resend would otherwise not be recognised and write twice), a
brace-wrapped GUID is the GUID. Reads keep replacing a malformed id (nothing is claimed)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shared.fhir.models import validate_resource
from tests.support.kernel import FHIR, patient

GUID = "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D"


def _total(client: TestClient) -> int:
    total: int = client.get("/fhir/Patient").json()["total"]
    return total


def test_a_resent_create_with_a_braced_guid_is_a_409_not_a_second_patient(client: TestClient) -> None:
    first = client.post("/fhir/Patient", json=patient(), headers={**FHIR, "x-request-id": f"{{{GUID}}}"})
    assert first.status_code == 201, first.text
    assert first.headers["x-request-id"] == GUID  # the GUID, without its braces
    again = client.post("/fhir/Patient", json=patient(), headers={**FHIR, "x-request-id": f"{{{GUID}}}"})
    assert again.status_code == 409, again.text
    bare = client.post("/fhir/Patient", json=patient(), headers={**FHIR, "x-request-id": GUID})
    assert bare.status_code == 409  # the same GUID written without braces is the same request
    assert _total(client) == 1


@pytest.mark.parametrize(
    "request_id",
    [
        "x" * 129,  # longer than 128
        "{not-a-guid}",  # braces around anything but a GUID
        f"{{{GUID}",  # an unclosed brace
        "two words",
        "an/id",
        "",
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_malformed_request_id_on_a_write_is_a_400_naming_the_header(
    client: TestClient, request_id: str, method: str
) -> None:
    stored = client.post("/fhir/Patient", json=patient(), headers=FHIR).json()
    path = "/fhir/Patient" if method == "POST" else f"/fhir/Patient/{stored['id']}"
    response = client.request(
        method,
        path,
        json=stored if method != "DELETE" else None,
        headers={**FHIR, "x-request-id": request_id},
    )
    assert response.status_code == 400, response.text
    outcome = response.json()
    validate_resource(outcome, "OperationOutcome")
    diagnostics = outcome["issue"][0]["diagnostics"]
    assert "X-Request-Id" in diagnostics and "128" in diagnostics and "GUID" in diagnostics
    assert outcome["issue"][0]["expression"] == ["http.X-Request-Id"]  # R4: "http." + the header's name
    assert _total(client) == 1  # nothing written, nothing deleted
    assert client.get(f"/fhir/Patient/{stored['id']}").json()["meta"]["versionId"] == "1"


def test_a_malformed_request_id_on_a_read_is_replaced_not_refused(client: TestClient) -> None:
    response = client.get("/fhir/Patient", headers={"x-request-id": "x" * 129})
    assert response.status_code == 200
    assert len(response.headers["x-request-id"]) == 36  # a fresh UUID, echoed and logged
    braced = client.get("/fhir/Patient", headers={"x-request-id": f"{{{GUID}}}"})
    assert braced.headers["x-request-id"] == GUID
