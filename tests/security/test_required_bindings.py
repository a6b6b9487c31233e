"""Finding 9, codes: ``Patient.gender: "bogus"`` and ``ServiceRequest.status: "bogus"`` were stored (the
model library checks that a code is a code, not that it is in its value set). Replayed: 400, nothing
stored, the issue naming the element and the value set."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from shared.fhir.bindings import REQUIRED_BINDINGS
from tests.support.tokens import Tokens

FHIR = {"content-type": "application/fhir+json"}
Secured = tuple[EmbeddedSystem, TestClient, Tokens]


@pytest.mark.parametrize(
    ("path", "body", "element"),
    [
        ("/referral/fhir/Patient", {"resourceType": "Patient", "gender": "bogus"}, "Patient.gender"),
        (
            "/referral/fhir/ServiceRequest",
            {
                "resourceType": "ServiceRequest",
                "status": "bogus",
                "intent": "order",
                "subject": {"reference": "Patient/x"},
            },
            "ServiceRequest.status",
        ),
        (
            "/careplan/fhir/CarePlan",
            {
                "resourceType": "CarePlan",
                "status": "active",
                "intent": "whatever",
                "subject": {"reference": "Patient/x"},
            },
            "CarePlan.intent",
        ),
    ],
)
def test_a_code_outside_its_required_value_set_is_refused_and_nothing_is_stored(
    secured: Secured, path: str, body: dict[str, Any], element: str
) -> None:
    _system, client, tokens = secured
    headers = {**FHIR, "authorization": f"Bearer {tokens.valid('L84001')}"}
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 400, response.text
    issues = response.json()["issue"]  # the summary first (BaRS code), then one per element
    assert any(i["code"] == "code-invalid" and i["expression"] == [element] for i in issues), issues
    assert client.get(path, headers=headers).json()["total"] == 0


def test_every_bound_element_accepts_each_code_of_its_value_set_and_nothing_else() -> None:
    from shared.fhir.bindings import binding_issues

    for element, (_name, codes) in REQUIRED_BINDINGS.items():
        resource_type, field = element.split(".")
        for code in codes:
            assert binding_issues({"resourceType": resource_type, field: code}) == [], (element, code)
        assert binding_issues({"resourceType": resource_type, field: "bogus"}), element
    bundle = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "gender": "x"}}]}
    assert binding_issues(bundle)[0]["expression"] == ["Bundle.entry[0].resource.gender"]
