"""Refused authentications are audited: one AuditEvent per 401, under a tenant no practice acts for,
readable by auditors only, holding nothing the unverified token said."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select

from painreview.embedded import EmbeddedSystem, create_embedded_system
from shared.auth.issuer import mint_local_token
from shared.core.principal import UNAUTHENTICATED_TENANT, Tenancy
from shared.fhir import ResourceStore
from shared.fhir.audit import UNAUDITED_REFUSALS
from shared.fhir.tables import resource_table
from tests.support.tokens import Tokens

R = resource_table


def _stored(system: EmbeddedSystem, service: str, request_id: str) -> list[tuple[str, dict[str, Any]]]:
    with system.services[service].engine.connect() as conn:
        rows = conn.execute(
            select(R.c.practice, R.c.content).where(
                R.c.resource_type == "AuditEvent", R.c.content.contains(request_id)
            )
        ).all()
    return [(row.practice, orjson.loads(row.content)) for row in rows]


def _refused(client: TestClient, url: str, token: str | None) -> str:
    request_id = str(uuid.uuid4())
    headers = {"x-request-id": request_id}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    assert client.get(url, headers=headers).status_code == 401
    return request_id


def _found_by_auditor(client: TestClient, service: str, token: str, request_id: str) -> bool:
    url: str | None = f"/{service}/fhir/AuditEvent?outcome=4&_count=100"
    while url:
        bundle = client.get(url, headers={"authorization": f"Bearer {token}"}).json()
        if request_id in orjson.dumps(bundle).decode():
            return True
        url = next((link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None)
    return False


def test_a_call_without_a_token_leaves_one_audit_event_an_auditor_finds_and_no_practice_sees(
    secured: tuple[EmbeddedSystem, TestClient, Tokens],
) -> None:
    system, client, tokens = secured
    request_id = _refused(client, "/careplan/fhir/CarePlan/some-plan", None)
    [(practice, event)] = _stored(system, "careplan", request_id)
    assert practice == UNAUTHENTICATED_TENANT
    assert event["outcome"] == "4" and event["outcomeDesc"] == "no access token"
    assert event["agent"][0]["who"] == {"display": "unknown client (not authenticated)"}
    assert {"type": "CarePlan"} in [e["what"] for e in event["entity"]]
    assert "some-plan" not in orjson.dumps(event).decode()  # no resource id, so nothing about a patient

    auditor = tokens.valid("A81001", "system/AuditEvent.rs", role="auditor")
    assert _found_by_auditor(client, "careplan", auditor, request_id)
    gp = tokens.valid("A81001", "system/*.rs")
    assert (
        client.get("/careplan/fhir/AuditEvent", headers={"authorization": f"Bearer {gp}"}).status_code == 403
    )
    # Below the route too: no practice's tenancy reaches the unauthenticated tenant.
    store = system.services["careplan"].kernel.store
    query = ResourceStore().query("AuditEvent", [("outcome", "4")], count=100)
    with system.services["careplan"].engine.connect() as conn:
        seen = store.search(conn, query, tenants=Tenancy({"A81001"})).resources
    assert request_id not in orjson.dumps(seen).decode()


def test_a_forged_token_is_audited_by_reason_without_the_token_or_anything_it_claims(
    secured: tuple[EmbeddedSystem, TestClient, Tokens],
) -> None:
    system, client, tokens = secured
    for why, forged in tokens.forgeries().items():
        request_id = _refused(client, "/referral/fhir/Patient", forged)
        [(practice, event)] = _stored(system, "referral", request_id)
        text = orjson.dumps(event).decode()
        assert practice == UNAUTHENTICATED_TENANT, why
        assert forged not in text, why
        assert not any(part in text for part in forged.split(".") if len(part) > 8), why
        assert "test-A81001" not in text and "A81001" not in text, why  # unverified claims stay out
        assert event["outcomeDesc"] and event["outcomeDesc"] != forged, why


def test_an_address_refused_too_often_gets_429_counted_into_its_next_audited_refusal(
    tmp_path: Path, secured: tuple[EmbeddedSystem, TestClient, Tokens]
) -> None:
    """Callers without a valid token cannot make us write without bound: past its budget an address
    is answered 429 with no AuditEvent each, and the next refusal audited from it says how many."""
    _, _, tokens = secured
    system = create_embedded_system(tmp_path / "var", refused_burst=3, refused_per_minute=60)
    gp = tokens.valid("A81001", "system/*.rs")  # signed by the other system's key: a forgery here
    try:
        with TestClient(system.app) as client:
            url = "/careplan/fhir/CarePlan"
            ids = [str(uuid.uuid4()) for _ in range(6)]
            statuses = [client.get(url, headers={"x-request-id": i}).status_code for i in ids[:5]]
            assert statuses == [401, 401, 401, 429, 429]
            throttled = client.get(url, headers={"x-request-id": ids[5], "authorization": f"Bearer {gp}"})
            assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
            assert throttled.json()["issue"][0]["code"] == "throttled"
            assert [len(_stored(system, "careplan", i)) for i in ids] == [1, 1, 1, 0, 0, 0]

            time.sleep(1.1)  # one refusal a second comes back into the budget
            later = str(uuid.uuid4())
            assert client.get(url, headers={"x-request-id": later}).status_code == 401
            [(_, event)] = _stored(system, "careplan", later)
            [request_entity] = [e for e in event["entity"] if e.get("description") == "X-Request-Id"]
            assert {"type": UNAUDITED_REFUSALS, "valueString": "3"} in request_entity["detail"]

            # A caller with a valid token from the same address is not held up by the others' refusals.
            mine = mint_local_token(system.auth, practice="A81001", scope="system/*.rs")
            assert client.get(url, headers={"authorization": f"Bearer {mine}"}).status_code == 200
    finally:
        for parts in system.services.values():
            parts.engine.dispose()
