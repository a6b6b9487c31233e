"""Finding 9, ids: a PUT to an unknown id created it, while another practice's id answered 404, so ids
could be probed (201 against 404) and squatted. Replayed: both answer the same 404 and nothing is made."""

from __future__ import annotations

from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from tests.support.tokens import Tokens

FHIR = {"content-type": "application/fhir+json"}


def test_an_unknown_id_and_another_practices_id_answer_the_same_and_nothing_is_created(
    secured: tuple[EmbeddedSystem, TestClient, Tokens],
) -> None:
    _system, client, tokens = secured
    owner = {**FHIR, "authorization": f"Bearer {tokens.valid('J82001')}"}
    prober = {**FHIR, "authorization": f"Bearer {tokens.valid('K83002')}"}
    theirs = client.post("/referral/fhir/Patient", json={"resourceType": "Patient"}, headers=owner).json()[
        "id"
    ]
    answers = {}
    for resource_id in (theirs, "squatted-id-1"):
        body = {"resourceType": "Patient", "id": resource_id, "gender": "female"}
        response = client.put(f"/referral/fhir/Patient/{resource_id}", json=body, headers=prober)
        answers[resource_id] = (response.status_code, response.json()["issue"][0]["code"])
    assert answers[theirs] == answers["squatted-id-1"] == (404, "not-found")
    assert client.get("/referral/fhir/Patient/squatted-id-1", headers=prober).status_code == 404
    assert client.get("/referral/fhir/Patient/squatted-id-1", headers=owner).status_code == 404
    capability = client.get("/referral/fhir/metadata").json()
    assert not any(r.get("updateCreate") for r in capability["rest"][0]["resource"])
