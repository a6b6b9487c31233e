"""Search modifiers are served or refused, never ignored (R4 search.html#errors): a modifier the SQL does
not implement is a 400 naming the parameter and the modifier, unless the caller asked for
``Prefer: handling=lenient`` (then it is dropped, left out of the self link and reported in an
OperationOutcome entry). An ``_include`` names the searched type as its source."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.fhir.models import validate_resource
from tests.support.kernel import NHS, create, patient

REFUSED = [
    ("ServiceRequest", "status:not", "active"),
    ("ServiceRequest", "status:text", "active"),
    ("ServiceRequest", "patient:identifier", f"{NHS}|9990000018"),
    ("ServiceRequest", "subject:Patient", "p1"),
    ("ServiceRequest", "subject:missing", "true"),
    ("ServiceRequest", "authored:missing", "true"),
    ("Patient", "identifier:missing", "true"),
    ("Patient", "identifier:of-type", "x|MR|1"),
    ("Patient", "_id:not", "p1"),
    ("Patient", "_lastUpdated:missing", "true"),
    ("Patient", "gender:text", "female"),
    ("Patient", "gender:in", "http://hl7.org/fhir/ValueSet/administrative-gender"),
    ("Patient", "birthdate:missing", "false"),
    ("Patient", "family:missing", "true"),
    ("Patient", "family:exact", "Smith"),  # the index keeps strings in lower case: not exact
    ("Patient", "family:text", "Smith"),
    ("Patient", "_count:exact", "1"),
    ("Patient", "_include:iterate", "Patient:general-practitioner"),
]


def _outcome(response: Any) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    validate_resource(body, "OperationOutcome")
    diagnostics: str = body["issue"][0]["diagnostics"]
    return diagnostics


@pytest.mark.parametrize(("resource_type", "key", "value"), REFUSED)
def test_an_unsupported_modifier_is_a_400_naming_parameter_and_modifier(
    client: TestClient, resource_type: str, key: str, value: str
) -> None:
    name, _, modifier = key.partition(":")
    diagnostics = _outcome(client.get(f"/fhir/{resource_type}", params={key: value}))
    assert f"'{name}'" in diagnostics and f":{modifier}" in diagnostics
    # the same through a POST _search form
    form = client.post(f"/fhir/{resource_type}/_search", data={key: value})
    assert form.status_code == 400


def test_the_modifiers_served_still_work(client: TestClient) -> None:
    create(client, patient("9990000018", "Smith"))
    create(client, patient("9990000026", "Goldsmith"))
    assert client.get("/fhir/Patient", params={"family": "smi"}).json()["total"] == 1
    assert client.get("/fhir/Patient", params={"family:contains": "SMITH"}).json()["total"] == 2


def test_status_not_is_no_longer_answered_as_status(client: TestClient) -> None:
    """The review's case: ``status:not=active`` was answered as ``status=active``."""
    subject = create(client, patient())
    create(
        client,
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": f"Patient/{subject['id']}"},
        },
    )
    assert client.get("/fhir/ServiceRequest", params={"status": "active"}).json()["total"] == 1
    assert client.get("/fhir/ServiceRequest", params={"status:not": "active"}).status_code == 400


def test_an_include_of_another_source_type_is_a_400(client: TestClient) -> None:
    diagnostics = _outcome(client.get("/fhir/ServiceRequest", params={"_include": "Observation:subject"}))
    assert "Observation:subject" in diagnostics and "ServiceRequest" in diagnostics
    assert (
        client.get("/fhir/ServiceRequest", params={"_include": "ServiceRequest:subject"}).status_code == 200
    )
    # a _revinclude names the other type as its source: still served
    assert client.get("/fhir/Patient", params={"_revinclude": "Observation:subject"}).status_code == 200


LENIENT = {"prefer": "handling=lenient"}


def test_lenient_handling_drops_what_it_cannot_serve_and_says_so(client: TestClient) -> None:
    create(client, patient("9990000018", "Smith"))
    create(client, patient("9990000026", "Jones"))
    query = {"family": "smith", "gender:text": "female", "unknown": "1"}
    response = client.get("/fhir/Patient", params=query, headers=LENIENT)
    assert response.status_code == 200, response.text
    bundle = response.json()
    validate_resource(bundle, "Bundle")
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert bundle["total"] == 1 and len(matches) == 1
    [outcome] = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome["resource"]["resourceType"] == "OperationOutcome"
    issues = outcome["resource"]["issue"]
    assert [i["expression"] for i in issues] == [["http.gender:text"], ["http.unknown"]]
    assert "':text'" in issues[0]["diagnostics"] and "'unknown'" in issues[1]["diagnostics"]
    assert all(i["severity"] == "warning" for i in outcome["resource"]["issue"])
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "family=smith" in self_link and "gender" not in self_link and "unknown" not in self_link
    # the dropped parameters are in no paging link either
    assert all("unknown" not in link["url"] for link in bundle["link"])


def test_strict_and_default_handling_refuse(client: TestClient) -> None:
    for headers in ({}, {"prefer": "handling=strict"}):
        assert client.get("/fhir/Patient", params={"unknown": "1"}, headers=headers).status_code == 400
        assert client.get("/fhir/Patient", params={"gender:text": "x"}, headers=headers).status_code == 400


def test_lenient_handling_still_refuses_a_value_it_cannot_read(client: TestClient) -> None:
    response = client.get("/fhir/Patient", params={"birthdate": "not-a-date"}, headers=LENIENT)
    assert response.status_code == 400
