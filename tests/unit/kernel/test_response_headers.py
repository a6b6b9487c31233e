"""Headers HTTP requires of particular answers: ``Allow`` on a 405 (RFC 9110 15.5.6), ``WWW-Authenticate``
with ``insufficient_scope`` on a 403 for a missing scope (RFC 6750 3.1), and ``Last-Modified`` beside
the ``ETag`` of a resource read, vread, created or updated (R4 http.html#read)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest
from fastapi.testclient import TestClient

from shared.auth import require
from shared.core.errors import Forbidden
from shared.core.principal import Principal, parse_scopes
from shared.fhir.models import validate_resource
from shared.fhir.values import parse_instant
from tests.support.auth import as_practice
from tests.support.kernel import FHIR, create, patient


def _allowed(response: object) -> set[str]:
    assert response.status_code == 405, response.text  # type: ignore[attr-defined]
    validate_resource(response.json(), "OperationOutcome")  # type: ignore[attr-defined]
    return {m.strip() for m in response.headers["allow"].split(",")}  # type: ignore[attr-defined]


def test_a_405_names_every_method_its_path_serves(client: TestClient) -> None:
    stored = create(client, patient())
    instance = {"GET", "PUT", "DELETE"}
    assert _allowed(client.patch(f"/fhir/Patient/{stored['id']}", json={})) == instance
    assert _allowed(client.post(f"/fhir/Patient/{stored['id']}", json={})) == instance
    assert _allowed(client.delete("/fhir/Patient")) == {"GET", "POST"}
    assert _allowed(client.put("/fhir/metadata", json={})) == {"GET"}


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/fhir/Patient", "system/Patient.s"),
        ("POST", "/fhir/Patient", "system/Patient.c"),
        ("GET", "/fhir/Patient/x1", "system/Patient.r"),
    ],
)
def test_a_403_for_a_missing_scope_says_insufficient_scope(
    client: TestClient, method: str, path: str, scope: str
) -> None:
    response = client.request(
        method,
        path,
        json=patient() if method == "POST" else None,
        headers={**FHIR, **as_practice("A81001", scopes="system/Observation.cruds")},
    )
    assert response.status_code == 403, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="insufficient_scope"' in challenge
    assert f'scope="{scope}"' in challenge


def test_an_include_refused_for_its_scope_says_insufficient_scope(client: TestClient) -> None:
    response = client.get(
        "/fhir/Patient",
        params={"_revinclude": "Observation:subject"},
        headers=as_practice("A81001", scopes="system/Patient.rs"),
    )
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="system/Observation.r"' in response.headers["www-authenticate"]


def _last_modified(response: object, resource: dict[str, object]) -> None:
    header = response.headers["last-modified"]  # type: ignore[attr-defined]
    assert header.endswith(" GMT")
    stored = parse_instant(str(resource["meta"]["lastUpdated"]))  # type: ignore[index]
    assert parsedate_to_datetime(header) == stored.replace(microsecond=0)


def test_read_vread_create_and_update_send_last_modified(client: TestClient) -> None:
    created = client.post("/fhir/Patient", json=patient(), headers=FHIR)
    body = created.json()
    _last_modified(created, body)
    read = client.get(f"/fhir/Patient/{body['id']}")
    _last_modified(read, read.json())
    updated = client.put(f"/fhir/Patient/{body['id']}", json={**body, "gender": "female"}, headers=FHIR)
    _last_modified(updated, updated.json())
    vread = client.get(f"/fhir/Patient/{body['id']}/_history/1")
    _last_modified(vread, body)


def test_the_auth_packages_scope_check_says_insufficient_scope_too() -> None:
    """``shared.auth.require`` (the scope check of routes built on FastAPI dependencies)."""
    caller = Principal("c1", "A81001", "gp-system", parse_scopes("system/Observation.rs"))
    with pytest.raises(Forbidden) as refused:
        require(caller, "Patient", "u")
    assert refused.value.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="system/Patient.u"'
    )
