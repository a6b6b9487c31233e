"""Finding 3 (high): an auditor token with ``*.cruds`` read and overwrote clinical data. Replayed as the
attack: the auditor reads AuditEvent and Provenance, on every service, and nothing else, whatever its
scopes; the role table (``shared.auth.ROLE_ACCESS``) is the one place that says so."""

from __future__ import annotations

from typing import Any, get_args

from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from shared.auth import INTERACTIONS, ROLE_ACCESS, Principal, Role, parse_scopes
from tests.support.access import SERVICES, protected_routes
from tests.support.tokens import Tokens

FHIR = {"content-type": "application/fhir+json"}
Secured = tuple[EmbeddedSystem, TestClient, Tokens]
AUDITOR_READS = ("/AuditEvent", "/Provenance")


def _call(client: TestClient, method: str, url: str, token: str, body: Any = None) -> Any:
    return client.request(method, url, json=body, headers={**FHIR, "authorization": f"Bearer {token}"})


def test_an_auditor_with_every_scope_cannot_overwrite_or_read_a_patient(secured: Secured) -> None:
    _system, client, tokens = secured
    gp = tokens.valid("A81001", "system/*.cruds")
    patient = _call(
        client, "POST", "/referral/fhir/Patient", gp, {"resourceType": "Patient", "gender": "female"}
    )
    patient = patient.json()
    auditor = tokens.valid("A81001", "system/*.cruds", role="auditor")
    overwrite = {**patient, "gender": "male"}
    response = _call(client, "PUT", f"/referral/fhir/Patient/{patient['id']}", auditor, overwrite)
    assert response.status_code == 403, response.text
    assert _call(client, "GET", f"/referral/fhir/Patient/{patient['id']}", auditor).status_code == 403
    assert _call(client, "GET", f"/referral/fhir/Patient/{patient['id']}", gp).json()["gender"] == "female"
    created = _call(client, "POST", "/referral/fhir/Patient", auditor, {"resourceType": "Patient"})
    assert created.status_code == 403


def test_an_auditor_reads_audit_events_and_provenance_and_follows_them_no_further(secured: Secured) -> None:
    _system, client, tokens = secured
    auditor = tokens.valid("A81001", "system/*.cruds", role="auditor")
    for service in SERVICES:
        for path in AUDITOR_READS:
            response = _call(client, "GET", f"/{service}/fhir{path}?_count=1", auditor)
            assert response.status_code == 200, (service, path, response.text)
    for following in (
        "/referral/fhir/AuditEvent?_include=AuditEvent:entity:Patient",
        "/referral/fhir/AuditEvent?_include=AuditEvent:patient:Patient",
        "/referral/fhir/Provenance?_include=Provenance:patient:Patient",
    ):
        assert _call(client, "GET", following, auditor).status_code == 403, following


def test_every_other_route_of_every_service_refuses_an_auditor_with_every_scope(secured: Secured) -> None:
    system, client, tokens = secured
    auditor = tokens.valid("A81001", "system/*.cruds", role="auditor")
    for service in SERVICES:
        for method, url in protected_routes(system, service):
            path = url.removeprefix(f"/{service}/fhir")
            reads = method == "GET" or path.endswith("/_search")
            if reads and path.startswith(AUDITOR_READS):
                continue
            body = {"resourceType": "Basic"} if method in ("POST", "PUT") else None
            response = _call(client, method, url, auditor, body)
            assert response.status_code == 403, (method, url, response.status_code, response.text)


def test_the_role_table_is_the_most_any_scope_can_give() -> None:
    everything = parse_scopes("system/*.cruds")
    for role, access in ROLE_ACCESS.items():
        principal = Principal("c", "A81001", role, everything)  # type: ignore[arg-type]
        for resource_type in ("Patient", "MedicationRequest", "AuditEvent", "Provenance", "Task"):
            for interaction in INTERACTIONS:
                granted = interaction in access.get(resource_type, access.get("*", frozenset()))
                assert principal.allows(resource_type, interaction) is granted, (
                    role,
                    resource_type,
                    interaction,
                )
    auditor = Principal("c", "A81001", "auditor", everything)
    assert [i for i in INTERACTIONS if auditor.allows("AuditEvent", i)] == ["r", "s"]
    assert not any(auditor.allows("Patient", i) for i in INTERACTIONS)


def test_every_role_a_token_may_carry_has_a_row_in_the_role_table() -> None:
    """A role added to ``Role`` without a row would be refused everything (or, worse, be given a default):
    the table names every role, so adding one means deciding what it may do."""
    assert set(get_args(Role)) == set(ROLE_ACCESS)
