"""The CodeSystems behind every reason and state the service emits are published: readable, searchable,
the same for every practice, and listed in the CapabilityStatement."""

from __future__ import annotations

import pytest

from shared.fhir.models import validate_resource
from tests.support.referral import Referral

BASE = "https://pain-review.example.org/fhir/CodeSystem"


@pytest.mark.parametrize("name", ["eligibility-reason", "screening-signal", "referral-status"])
def test_each_published_code_system_reads_as_valid_r4(referral: Referral, name: str) -> None:
    response = referral.get(f"CodeSystem/{name}")
    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"1"'
    validate_resource(response.json(), "CodeSystem")
    assert response.json()["url"] == f"{BASE}/{name}"
    assert referral.get(f"CodeSystem/{name}/_history/1").json()["id"] == name
    assert referral.get(f"CodeSystem/{name}/_history").json()["total"] == 1


def test_code_systems_are_searchable_by_url_name_and_status(referral: Referral) -> None:
    assert referral.get("CodeSystem").json()["total"] == 3
    by_url = referral.get("CodeSystem", url=f"{BASE}/eligibility-reason").json()
    assert [e["resource"]["id"] for e in by_url["entry"]] == ["eligibility-reason"]
    assert (
        referral.get("CodeSystem", name="Screening").json()["entry"][0]["resource"]["id"]
        == "screening-signal"
    )
    assert referral.get("CodeSystem", status="retired").json()["total"] == 0
    assert referral.get("CodeSystem", publisher="x").status_code == 400


def test_every_practice_sees_the_same_code_systems(referral: Referral) -> None:
    other = referral.token(practice="Q12345")
    response = referral.client.get(
        "/referral/fhir/CodeSystem/referral-status", headers={"authorization": f"Bearer {other}"}
    )
    assert response.status_code == 200


def test_an_unknown_code_system_is_not_found(referral: Referral) -> None:
    assert referral.get("CodeSystem/unknown").status_code == 404


def test_reading_code_systems_needs_a_token_and_the_scope(referral: Referral) -> None:
    assert referral.client.get("/referral/fhir/CodeSystem").status_code == 401
    token = referral.token(scope="system/Patient.rs")
    response = referral.client.get("/referral/fhir/CodeSystem", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_the_capability_statement_lists_code_system_as_read_only(referral: Referral) -> None:
    statement = referral.client.get("/referral/fhir/metadata").json()
    code_system = next(r for r in statement["rest"][0]["resource"] if r["type"] == "CodeSystem")
    assert {i["code"] for i in code_system["interaction"]} == {
        "read",
        "vread",
        "history-instance",
        "search-type",
    }
