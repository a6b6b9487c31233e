"""What each CapabilityStatement declares of searches and operations is what the service serves:
``searchRevInclude`` lists the ``_revinclude`` values it answers (each is tried), every ``searchInclude``
is answered too, and an operation's ``definition`` never names a URL on this server that is not there."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem

SERVICES = ("referral", "careplan", "medreview", "gpconnect")


def _statement(client: TestClient, service: str) -> dict[str, Any]:
    statement: dict[str, Any] = client.get(f"/{service}/fhir/metadata").json()
    return statement


@pytest.mark.parametrize("service", SERVICES)
def test_every_declared_include_and_revinclude_is_answered(
    embedded: tuple[EmbeddedSystem, TestClient, str], service: str
) -> None:
    system, client, token = embedded
    kernel = system.services[service].kernel
    headers = {"authorization": f"Bearer {token}"}
    searched = [r for r in _statement(client, service)["rest"][0]["resource"] if r.get("searchParam")]
    assert searched
    for resource in searched:
        declared = resource.get("searchRevInclude", [])
        # every reference parameter of every type this service stores can be followed back
        expected = {
            f"{source}:{param.name}"
            for source in kernel.resources
            for param in kernel.store.search_params.of(source).values()
            if param.type == "reference"
        }
        assert set(declared) == expected, resource["type"]
        for value in resource.get("searchInclude", []):
            kernel.store.query(resource["type"], [("_include", value)])  # parsed, not refused
        for value in declared:
            kernel.store.query(resource["type"], [("_revinclude", value)])
    # and answered over HTTP (a sample: the rate limit allows 60 requests at once)
    resource = next(r for r in searched if r["type"] != "AuditEvent" and r.get("searchInclude"))
    readable = [v for v in resource["searchRevInclude"] if not v.startswith("AuditEvent:")]  # auditors'
    for kind, value in [
        ("_include", resource["searchInclude"][0]),
        *(("_revinclude", v) for v in readable[:5]),
    ]:
        response = client.get(
            f"/{service}/fhir/{resource['type']}", params={kind: value, "_count": "1"}, headers=headers
        )
        assert response.status_code == 200, (service, resource["type"], kind, value, response.text)


@pytest.mark.parametrize("service", SERVICES)
def test_no_operation_definition_names_a_missing_resource_on_this_server(
    embedded: tuple[EmbeddedSystem, TestClient, str], service: str
) -> None:
    _system, client, token = embedded
    statement = _statement(client, service)
    base = statement["implementation"]["url"]
    rest = statement["rest"][0]
    definitions = [op["definition"] for op in rest.get("operation", [])]
    definitions += [op["definition"] for r in rest["resource"] for op in r.get("operation", [])]
    for definition in definitions:
        assert definition.startswith(("http://", "https://")), definition  # a canonical URL
        if definition.startswith(base):
            response = client.get(definition, headers={"authorization": f"Bearer {token}"})
            assert response.status_code == 200, definition
