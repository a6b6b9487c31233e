"""R4 JSON has no empty arrays (json.html: an element that repeats is left out rather than given as
``[]``): a resource holding one is refused on create and update with an issue naming its path, at any
depth, and the schema check (``jsonschema_r4``) is where the rule is kept, once for every element."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.core.principal import Tenancy
from shared.db import make_engine
from shared.fhir import kernel_metadata
from shared.fhir.jsonschema_r4 import schema_issues, schema_valid
from shared.fhir.models import validate_resource
from shared.fhir.store import ResourceStore
from tests.support.kernel import FHIR, create, patient


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"name": []}, "Patient.name"),
        ({"name": [{"family": "Smith", "given": []}]}, "Patient.name[0].given"),
        ({"identifier": []}, "Patient.identifier"),
        ({"extension": []}, "Patient.extension"),
        ({"meta": {"profile": []}}, "Patient.meta.profile"),
        ({"contact": [{"telecom": []}]}, "Patient.contact[0].telecom"),
    ],
)
def test_an_empty_array_is_refused_naming_its_path(changes: dict[str, Any], path: str) -> None:
    resource = {**patient(), **changes}
    assert not schema_valid(resource)
    [issue] = schema_issues(resource)
    assert issue["expression"] == [path]
    assert "empty" in issue["diagnostics"]


def test_a_create_with_an_empty_array_is_a_400(client: TestClient) -> None:
    response = client.post("/fhir/Patient", json={**patient(), "name": []}, headers=FHIR)
    assert response.status_code == 400, response.text
    outcome = response.json()
    validate_resource(outcome, "OperationOutcome")
    assert ["Patient.name"] in [issue.get("expression") for issue in outcome["issue"]]
    assert client.get("/fhir/Patient").json()["total"] == 0


def test_an_update_with_an_empty_array_is_a_400_and_changes_nothing(client: TestClient) -> None:
    stored = create(client, patient())
    response = client.put(f"/fhir/Patient/{stored['id']}", json={**stored, "name": []}, headers=FHIR)
    assert response.status_code == 400
    assert client.get(f"/fhir/Patient/{stored['id']}").json()["name"] == patient()["name"]


def test_arrays_with_members_still_pass() -> None:
    resource = {**patient(), "name": [{"given": ["A", "B"], "_given": [{"id": "g1"}, {"id": "g2"}]}]}
    validate_resource(resource, "Patient")


def test_a_resource_a_service_builds_is_stored_without_its_empty_arrays(db_url: str) -> None:
    """What a service writes through the kernel (not a request's body, which is refused) is stored without
    the elements that hold no value: referral's ineligible Task had ``statusReason.coding: []``, a
    medreview gate Task ``input: []``. Nothing a reader can see changes; the rest is kept as built."""
    engine = make_engine(db_url)
    kernel_metadata.create_all(engine)
    built = {
        "resourceType": "Task",
        "status": "completed",
        "intent": "order",
        "statusReason": {"coding": [], "text": "Not eligible after review"},
        "input": [],
        "note": [{"text": "kept"}],
        "extension": [{"url": "http://example.org/x", "valueCodeableConcept": {"coding": []}}],
    }
    store = ResourceStore()
    with engine.begin() as conn:
        stored = store.create(conn, built, practice="A81001")
        read = store.read(conn, "Task", stored["id"], tenants=Tenancy({"A81001"}))
    engine.dispose()
    assert read == stored
    assert "input" not in read and read["statusReason"] == {"text": "Not eligible after review"}
    assert read["note"] == [{"text": "kept"}]
    assert read["extension"] == [{"url": "http://example.org/x"}]
    validate_resource({k: v for k, v in read.items() if k != "extension"}, "Task")
