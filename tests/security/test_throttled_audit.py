"""Finding 8 (medium): every 429 to a valid token wrote an AuditEvent, so one client hammering the API
made us write without bound (and slowed every other client). Replayed as the attack: a spell of 429s
leaves one AuditEvent, and the client's next audited request carries the count of the rest."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem, create_embedded_system
from shared.auth.issuer import IssuerKeys
from shared.fhir.audit import UNAUDITED_THROTTLED
from tests.support.clock import Clock
from tests.support.tokens import Tokens

BURST = 5


@pytest.fixture
def throttled(tmp_path: Path) -> Iterator[tuple[EmbeddedSystem, TestClient, Tokens, Clock]]:
    system = create_embedded_system(tmp_path, rate_per_minute=60, rate_burst=BURST)
    clock = Clock(start=1000.0)
    limiter = system.services["referral"].kernel.authenticator.rate_limiter  # type: ignore[attr-defined]
    limiter._clock = clock  # the limiter's own seam: time moves only when the test says
    tokens = Tokens(system, IssuerKeys(system.auth.issuer_key_path, algorithm=system.auth.signing_algorithm))
    with TestClient(system.app) as client:
        yield system, client, tokens, clock
    for parts in system.services.values():
        parts.engine.dispose()


def _events(client: TestClient, tokens: Tokens) -> list[dict[str, Any]]:
    claims = tokens.claims("A81001", "system/AuditEvent.rs", "auditor", client_id="auditor", sub="auditor")
    auditor = {"authorization": f"Bearer {tokens.sign(claims)}"}  # its own client, its own budget
    found, url = [], "/referral/fhir/AuditEvent?_count=100"
    while url:
        page = client.get(url, headers=auditor).json()
        found += [e["resource"] for e in page.get("entry", ())]
        url = next((link["url"] for link in page.get("link", ()) if link["relation"] == "next"), "")
        url = url.split("testserver", 1)[-1]
    return [e for e in found if "Patient" in str(e["entity"][0].get("what"))]


def test_a_spell_of_429s_leaves_one_audit_event_and_the_next_request_carries_the_count(
    throttled: tuple[EmbeddedSystem, TestClient, Tokens, Clock],
) -> None:
    _system, client, tokens, clock = throttled
    headers = {"authorization": f"Bearer {tokens.valid('A81001', 'system/Patient.rs')}"}
    statuses = [client.get("/referral/fhir/Patient", headers=headers).status_code for _ in range(BURST + 200)]
    assert statuses[:BURST] == [200] * BURST and set(statuses[BURST:]) == {429}
    clock.advance(60)  # the bucket refills
    assert client.get("/referral/fhir/Patient?_count=1", headers=headers).status_code == 200

    events = _events(client, tokens)
    refused = [e for e in events if e["outcome"] == "4"]
    assert len(refused) == 1  # the first 429 of the spell, not 200 of them
    assert len(events) == BURST + 2
    last = max(events, key=lambda e: e["recorded"])
    query = base64.b64decode(last["entity"][0]["query"]).decode()
    assert query == "_count=1"
    details = {d["type"]: d["valueString"] for e in last["entity"] for d in e.get("detail", ())}
    assert details[UNAUDITED_THROTTLED] == "199"


def test_the_next_spell_is_audited_again(throttled: tuple[EmbeddedSystem, TestClient, Tokens, Clock]) -> None:
    _system, client, tokens, clock = throttled
    headers = {"authorization": f"Bearer {tokens.valid('A81001', 'system/Patient.rs')}"}
    for _spell in range(2):
        statuses = [
            client.get("/referral/fhir/Patient", headers=headers).status_code for _ in range(BURST + 3)
        ]
        assert statuses.count(429) == 3
        clock.advance(60)
    refused = [e for e in _events(client, tokens) if e["outcome"] == "4"]
    assert len(refused) == 2
