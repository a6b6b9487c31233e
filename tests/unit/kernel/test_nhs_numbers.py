"""NHS numbers are checked wherever the kernel creates or updates a resource: an Identifier of the NHS
number system holds exactly ten digits with a valid Modulus 11 check digit (the ``nhs-number``
package's), and a system that is nearly the NHS number's is refused rather than read as another."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from shared.core import values
from shared.core.values import NHS_NUMBER_SYSTEM
from tests.support.kernel import FHIR, create, patient

VALID = ["9990000018", "9990000026", "9476719931", "4010232137"]
INVALID = [
    "9990000019",
    "999 000 0018",
    "999-000-0018",
    "0000000000",
    "999000001",
    "99900000180",
    "abcdefghij",
]
INVALID += ["", " 9990000018", "9990000018 ", "٩٩٩٠٠٠٠٠١٨"]  # padded; Arabic-Indic digits


@pytest.mark.parametrize("value", VALID)
def test_a_valid_nhs_number_is_one(value: str) -> None:
    assert values.is_nhs_number(value)


@pytest.mark.parametrize("value", [*INVALID, None, 9990000018])
def test_an_invalid_nhs_number_is_none(value: Any) -> None:
    assert not values.is_nhs_number(value)


@given(st.text(max_size=12))
def test_only_ten_ascii_digits_can_be_an_nhs_number(value: str) -> None:
    if values.is_nhs_number(value):
        assert len(value) == 10 and value.isascii() and value.isdigit()


def test_problems_name_each_element_carrying_an_nhs_number() -> None:
    resource = {
        "resourceType": "Task",
        "identifier": [
            {"system": "https://example.org", "value": "1"},
            {"system": NHS_NUMBER_SYSTEM, "value": "1"},
        ],
        "for": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": "9990000019"}},
        "contained": [{"resourceType": "Patient", "identifier": [{"system": NHS_NUMBER_SYSTEM}]}],
        "owner": {"identifier": {"system": "http://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}},
        "input": [
            {"type": {"text": "x"}, "valueIdentifier": {"system": NHS_NUMBER_SYSTEM, "value": "9990000018"}}
        ],
    }
    assert [where for where, _why in values.nhs_number_problems(resource)] == [
        "Task.identifier[1].value",
        "Task.for.identifier.value",
        "Task.contained[0].identifier[0].value",
        "Task.owner.identifier.system",
    ]
    assert values.nhs_number_problems(patient()) == []


@pytest.mark.parametrize("value", INVALID)
def test_a_patient_with_an_invalid_nhs_number_is_400_naming_it_and_stores_nothing(
    client: TestClient, value: str
) -> None:
    response = client.post("/fhir/Patient", json=patient(value), headers=FHIR)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["details"]["coding"][0]["code"] == "REC_BAD_REQUEST"
    assert any("Patient.identifier[0].value" in i.get("expression", []) for i in body["issue"])
    total = client.get("/fhir/Patient", params={"_summary": "count"}).json()["total"]
    assert total == 0


def test_an_update_to_an_invalid_nhs_number_is_400_and_changes_nothing(client: TestClient) -> None:
    stored = create(client, patient())
    changed = {**stored, "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": "9990000019"}]}
    response = client.put(f"/fhir/Patient/{stored['id']}", json=changed, headers=FHIR)
    assert response.status_code == 400, response.text
    assert client.get(f"/fhir/Patient/{stored['id']}").json()["meta"]["versionId"] == "1"


def test_a_near_miss_system_is_400_naming_the_system(client: TestClient) -> None:
    resource = patient()
    resource["identifier"][0]["system"] = "https://fhir.nhs.uk/Id/nhs-numberX"
    response = client.post("/fhir/Patient", json=resource, headers=FHIR)
    assert response.status_code == 400, response.text
    assert any("Patient.identifier[0].system" in i.get("expression", []) for i in response.json()["issue"])
