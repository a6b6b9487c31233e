"""For every route of every service: no token 401, forged tokens 401, missing scope 403, and one
practice never sees another's data (404 or an empty result: zero leaks)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from tests.support.access import SERVICES, protected_routes, seed, send
from tests.support.tokens import Tokens


@pytest.mark.parametrize("service", SERVICES)
def test_every_protected_route_refuses_a_missing_token_with_401(
    secured: tuple[EmbeddedSystem, TestClient, Tokens], service: str
) -> None:
    system, client, _tokens = secured
    routes = protected_routes(system, service)
    assert routes
    for method, url in routes:
        response = send(client, method, url, None)
        assert response.status_code == 401, (method, url, response.status_code)
        assert response.json()["resourceType"] == "OperationOutcome"
        assert "www-authenticate" in response.headers


@pytest.mark.parametrize("service", SERVICES)
def test_every_protected_route_refuses_every_forged_token_with_401(
    secured: tuple[EmbeddedSystem, TestClient, Tokens], service: str
) -> None:
    system, client, tokens = secured
    for why, forged in tokens.forgeries().items():
        for method, url in protected_routes(system, service):
            response = send(client, method, url, forged)
            assert response.status_code == 401, (why, method, url, response.status_code)
            assert forged not in response.text


@pytest.mark.parametrize("service", SERVICES)
def test_every_protected_route_refuses_a_token_without_the_scope_with_403(
    secured: tuple[EmbeddedSystem, TestClient, Tokens], service: str
) -> None:
    system, client, tokens = secured
    token = tokens.valid(scope="system/Basic.r")
    for method, url in protected_routes(system, service):
        response = send(client, method, url, token)
        assert response.status_code == 403, (method, url, response.status_code, response.text)


def test_the_audit_trail_needs_the_auditor_role_not_just_the_scope(
    secured: tuple[EmbeddedSystem, TestClient, Tokens],
) -> None:
    _system, client, tokens = secured
    gp = tokens.valid(scope="system/AuditEvent.rs")
    assert send(client, "GET", "/referral/fhir/AuditEvent", gp).status_code == 403
    auditor = tokens.valid(scope="system/AuditEvent.rs", role="auditor")
    assert send(client, "GET", "/referral/fhir/AuditEvent", auditor).status_code == 200


def test_practice_b_reading_searching_paging_history_and_including_practice_a_data_sees_nothing(
    secured: tuple[EmbeddedSystem, TestClient, Tokens],
) -> None:
    _system, client, tokens = secured
    seeded = seed(client, tokens.valid("A81001"))
    other = tokens.valid("B82002")
    for key, resource in seeded.items():
        service, resource_type = key.split("/")
        base = f"/{service}/fhir/{resource_type}"
        rid = resource["id"]
        for url in (f"{base}/{rid}", f"{base}/{rid}/_history", f"{base}/{rid}/_history/1"):
            assert send(client, "GET", url, other).status_code == 404, url
        for query in ({"_id": rid}, {"_count": 1}, {"_count": 1, "_offset": 1}):
            bundle = client.get(base, params=query, headers={"authorization": f"Bearer {other}"}).json()
            assert bundle["total"] == 0 and "entry" not in bundle, (key, query)
        assert send(client, "PUT", f"{base}/{rid}", other, {**resource}).status_code == 404
        assert send(client, "DELETE", f"{base}/{rid}", other).status_code == 404
    included = client.get(
        "/referral/fhir/ServiceRequest",
        params={"_include": "ServiceRequest:patient", "_revinclude": "Task:focus"},
        headers={"authorization": f"Bearer {other}"},
    )
    # (Provenance:target is not a search parameter here: such a search is a 400, which proves nothing.)
    assert included.status_code == 200 and "entry" not in included.json()
    mine = client.get(
        "/referral/fhir/ServiceRequest",
        params={"_include": "ServiceRequest:patient"},
        headers={"authorization": f"Bearer {tokens.valid('A81001')}"},
    ).json()
    assert {e["resource"]["resourceType"] for e in mine["entry"]} == {"ServiceRequest", "Patient"}
    # The owner still sees version 1: the other practice changed nothing.
    patient = seeded["referral/Patient"]
    own = send(client, "GET", f"/referral/fhir/Patient/{patient['id']}", tokens.valid("A81001")).json()
    assert own["meta"]["versionId"] == "1"
