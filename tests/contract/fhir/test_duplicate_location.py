"""A repeated X-Request-Id on a REST create: 409 duplicate, nothing stored twice, and the original's Location.

A sender whose 201 was lost resends with the same X-Request-Id (BaRS: retries keep it); the 409 names where
the first one was stored, so it needs no search to find it.
"""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from shared.auth import mint_local_token

Embedded = tuple[EmbeddedSystem, TestClient, str]


def _patient(nhs_number: str) -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number}],
    }


def test_a_resent_create_is_answered_409_with_the_originals_location(embedded: Embedded) -> None:
    _system, client, token = embedded
    headers = {"authorization": f"Bearer {token}", "x-request-id": str(uuid.uuid4())}
    first = client.post("/referral/fhir/Patient", json=_patient("9990000026"), headers=headers)
    assert first.status_code == 201, first.text
    again = client.post("/referral/fhir/Patient", json=_patient("9990000026"), headers=headers)
    assert again.status_code == 409, again.text
    assert again.json()["issue"][0]["code"] == "duplicate"
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["location"].endswith(f"/Patient/{first.json()['id']}/_history/1")
    found = client.get(
        "/referral/fhir/Patient",
        params={"identifier": "https://fhir.nhs.uk/Id/nhs-number|9990000026"},
        headers={"authorization": f"Bearer {token}"},
    ).json()
    assert found["total"] == 1  # stored once


def test_the_same_request_id_from_another_practice_is_its_own_and_names_nothing_of_ours(
    embedded: Embedded,
) -> None:
    system, client, token = embedded
    request_id = str(uuid.uuid4())
    ours = client.post(
        "/referral/fhir/Patient",
        json=_patient("9990000034"),
        headers={"authorization": f"Bearer {token}", "x-request-id": request_id},
    )
    assert ours.status_code == 201, ours.text
    other = mint_local_token(system.auth, practice="B82002", scope="system/*.cruds")
    theirs = client.post(
        "/referral/fhir/Patient",
        json=_patient("9990000042"),
        headers={"authorization": f"Bearer {other}", "x-request-id": request_id},
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.headers["location"] != ours.headers["location"]


def test_a_repeat_of_a_write_that_recorded_no_location_is_a_plain_409(embedded: Embedded) -> None:
    """An id first used by an update (not a create) is refused for a create without a Location."""
    _system, client, token = embedded
    auth = {"authorization": f"Bearer {token}"}
    created = client.post("/referral/fhir/Patient", json=_patient("9990000050"), headers=auth).json()
    headers = {**auth, "x-request-id": str(uuid.uuid4())}
    updated = client.put(f"/referral/fhir/Patient/{created['id']}", json=created, headers=headers)
    assert updated.status_code == 200, updated.text
    again = client.post("/referral/fhir/Patient", json=_patient("9990000069"), headers=headers)
    assert again.status_code == 409, again.text
    assert "location" not in again.headers
