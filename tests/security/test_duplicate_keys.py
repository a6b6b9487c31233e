"""Finding 9, JSON: duplicate keys were resolved silently (the last one kept), so what was stored could
differ from what a client or a proxy checked. Replayed: 400 naming the key, nothing stored."""

from __future__ import annotations

from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from tests.support.tokens import Tokens


def test_a_body_naming_a_key_twice_is_refused_and_nothing_is_stored(
    secured: tuple[EmbeddedSystem, TestClient, Tokens],
) -> None:
    _system, client, tokens = secured
    headers = {"content-type": "application/fhir+json", "authorization": f"Bearer {tokens.valid('R89001')}"}
    for body in (
        b'{"resourceType": "Patient", "gender": "male", "gender": "female"}',
        b'{"resourceType": "Patient", "name": [{"family": "A", "family": "B"}]}',
        b'{"resourceType": "Patient", "resourceType": "Basic"}',
    ):
        response = client.post("/referral/fhir/Patient", content=body, headers=headers)
        assert response.status_code == 400, response.text
        assert "more than once" in response.text
    assert client.get("/referral/fhir/Patient", headers=headers).json()["total"] == 0
    single = client.post(
        "/referral/fhir/Patient", content=b'{"resourceType": "Patient", "gender": "male"}', headers=headers
    )
    assert single.status_code == 201
