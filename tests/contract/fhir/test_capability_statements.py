"""Each service's CapabilityStatement is valid R4 and lists exactly what the service routes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from shared.fhir.models import validate_resource

SERVICES = ("referral", "careplan", "medreview", "gpconnect")
INTERACTION_ROUTES = {
    "read": ("GET", "/fhir/{rt}/{resource_id}"),
    "vread": ("GET", "/fhir/{rt}/{resource_id}/_history/{version_id}"),
    "history-instance": ("GET", "/fhir/{rt}/{resource_id}/_history"),
    "search-type": ("GET", "/fhir/{rt}"),
    "create": ("POST", "/fhir/{rt}"),
    "update": ("PUT", "/fhir/{rt}/{resource_id}"),
    "delete": ("DELETE", "/fhir/{rt}/{resource_id}"),
}


@pytest.mark.parametrize("service", SERVICES)
def test_metadata_is_an_open_valid_r4_capability_statement(
    embedded: tuple[EmbeddedSystem, TestClient, str], service: str
) -> None:
    _system, client, _token = embedded
    response = client.get(f"/{service}/fhir/metadata")
    assert response.status_code == 200
    statement = response.json()
    validate_resource(statement, "CapabilityStatement")
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"


@pytest.mark.parametrize("service", SERVICES)
def test_every_declared_resource_and_interaction_is_really_routed(
    embedded: tuple[EmbeddedSystem, TestClient, str], service: str
) -> None:
    system, client, _token = embedded
    app = system.services[service].app
    routes = {
        (method.upper(), path) for path, methods in app.openapi()["paths"].items() for method in methods
    }
    statement = client.get(f"/{service}/fhir/metadata").json()
    kernel = system.services[service].kernel
    with_interactions = {r["type"] for r in statement["rest"][0]["resource"] if r.get("interaction")}
    assert with_interactions == set(kernel.resources)
    operation_types = {op.resource_type for op in kernel.operations if op.resource_type}
    declared = {r["type"] for r in statement["rest"][0]["resource"]}
    assert declared == set(kernel.resources) | operation_types
    for resource in statement["rest"][0]["resource"]:
        for operation in resource.get("operation", []):
            op = next(
                o
                for o in kernel.operations
                if o.name == operation["name"] and o.resource_type == resource["type"]
            )
            path = (
                f"/fhir/{resource['type']}/${op.name}"
                if op.level == "type"
                else (f"/fhir/{resource['type']}/{{resource_id}}/${op.name}")
            )
            assert any(p == path for _m, p in routes), path
        for interaction in resource.get("interaction", []):
            method, template = INTERACTION_ROUTES[interaction["code"]]
            assert (
                method,
                template.format(rt=resource["type"], resource_id="{resource_id}", version_id="{version_id}"),
            ) in routes


def test_referral_careplan_and_medreview_serve_the_resources_design_assigns_them(
    embedded: tuple[EmbeddedSystem, TestClient, str],
) -> None:
    system, _client, _token = embedded
    assert {"Patient", "ServiceRequest", "Task", "Consent", "EpisodeOfCare"} <= set(
        system.services["referral"].kernel.resources
    )
    assert {"CarePlan", "Goal", "CareTeam", "Measure", "MeasureReport"} <= set(
        system.services["careplan"].kernel.resources
    )
    assert {"MedicationRequest", "DetectedIssue", "Observation"} <= set(
        system.services["medreview"].kernel.resources
    )
    for parts in system.services.values():
        assert {"AuditEvent", "Provenance"} <= set(parts.kernel.resources)
