"""The access matrix as a property: for any role, any scopes, any search or read on any service, with any
``_include``/``_revinclude``, nothing comes back that the token's role and scopes may not read, nothing of
another practice, nothing of a patient its staff may not see, and never a server error."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from painreview.embedded import EmbeddedSystem
from shared.auth import ROLE_ACCESS, parse_scopes
from tests.support.tokens import Tokens

OURS, THEIRS = "N86001", "P87002"
Secured = tuple[EmbeddedSystem, TestClient, Tokens]
FHIR = {"content-type": "application/fhir+json"}

# (service, resource type) pairs the seed fills, and the include specs that join them.
TARGETS = [
    ("referral", "Patient"),
    ("referral", "MedicationRequest"),
    ("referral", "ServiceRequest"),
    ("referral", "AuditEvent"),
    ("referral", "Provenance"),
    ("careplan", "CarePlan"),
    ("medreview", "MedicationRequest"),
]
INCLUDES = [
    "_include=MedicationRequest:subject",
    "_include=MedicationRequest:patient:Patient",
    "_include=ServiceRequest:subject",
    "_include=CarePlan:subject",
    "_include=AuditEvent:entity",
    "_include=Provenance:patient",
    "_revinclude=MedicationRequest:subject",
    "_revinclude=ServiceRequest:patient",
    "_revinclude=AuditEvent:entity",
    "_revinclude=Provenance:patient",
    "_revinclude=CarePlan:subject",
]
TYPES = ["Patient", "MedicationRequest", "ServiceRequest", "CarePlan", "AuditEvent", "Provenance", "*"]
LETTERS = ["r", "s", "rs", "cruds"]


def _seed(client: TestClient, token: str) -> set[str]:
    headers = {**FHIR, "authorization": f"Bearer {token}"}
    ids = set()
    patient = client.post("/referral/fhir/Patient", json={"resourceType": "Patient"}, headers=headers).json()
    ids.add(patient["id"])
    subject = {"reference": f"Patient/{patient['id']}"}
    for path, body in (
        (
            "/referral/fhir/MedicationRequest",
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {"text": "Codeine 30mg"},
                "subject": subject,
            },
        ),
        (
            "/referral/fhir/ServiceRequest",
            {"resourceType": "ServiceRequest", "status": "active", "intent": "order", "subject": subject},
        ),
        (
            "/careplan/fhir/CarePlan",
            {"resourceType": "CarePlan", "status": "draft", "intent": "plan", "subject": subject},
        ),
        (
            "/medreview/fhir/MedicationRequest",
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {"text": "Tramadol 50mg"},
                "subject": subject,
            },
        ),
    ):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 201, response.text
        ids.add(response.json()["id"])
    return ids


@pytest.fixture(scope="module")
def seeded(secured: Secured) -> dict[str, set[str]]:
    _system, client, tokens = secured
    return {OURS: _seed(client, tokens.valid(OURS)), THEIRS: _seed(client, tokens.valid(THEIRS))}


def _readable(role: str, scope_text: str, resource_type: str) -> bool:
    access = ROLE_ACCESS[role]
    permitted = "r" in access.get(resource_type, access.get("*", frozenset()))
    return permitted and any(s.grants(resource_type, "r") for s in parse_scopes(scope_text))


@settings(
    max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
@given(
    role=st.sampled_from(["gp-system", "project-worker", "specialist", "auditor"]),
    target=st.sampled_from(TARGETS),
    scopes=st.lists(st.tuples(st.sampled_from(TYPES), st.sampled_from(LETTERS)), max_size=3),
    grant_target=st.booleans(),
    wide=st.booleans(),
    data=st.data(),
    read_one=st.booleans(),
)
def test_nothing_outside_the_tokens_role_scope_and_tenancy_ever_comes_back(
    secured: Secured,
    seeded: dict[str, set[str]],
    role: str,
    target: tuple[str, str],
    scopes: list[tuple[str, str]],
    grant_target: bool,
    wide: bool,
    data: st.DataObject,
    read_one: bool,
) -> None:
    _system, client, tokens = secured
    service, resource_type = target
    # Mostly includes that join the target to something (so they find resources), sometimes any.
    joined = [
        i
        for i in INCLUDES
        if f"={resource_type}:" in i or ("_revinclude" in i and resource_type == "Patient")
    ]
    includes = data.draw(
        st.lists(st.sampled_from(joined or INCLUDES) | st.sampled_from(INCLUDES), max_size=2, unique=True)
    )
    # Half the time the token may search the target, so that the includes and the tenancy are reached.
    scopes = [*scopes, (resource_type, "rs")] if grant_target or not scopes else scopes
    scopes = [*scopes, ("*", "rs")] if wide else scopes  # and often every type, so includes succeed
    scope_text = " ".join(f"system/{t}.{letters}" for t, letters in scopes)
    staff = role in ("project-worker", "specialist")
    assigned = {"practices": [OURS]} if staff else {}
    claims = tokens.claims("Q88001" if staff else OURS, scope_text, role, **assigned)
    headers = {"authorization": f"Bearer {tokens.sign(claims)}"}
    if read_one:
        some_id = sorted(seeded[THEIRS])[0]
        response = client.get(f"/{service}/fhir/{resource_type}/{some_id}", headers=headers)
        assert response.status_code in (403, 404), (response.status_code, response.text[:200])
        return
    query = "&".join(["_count=50", *includes])
    response = client.get(f"/{service}/fhir/{resource_type}?{query}", headers=headers)
    assert response.status_code < 500, response.text[:300]
    access = ROLE_ACCESS[role]
    may_search = "s" in access.get(resource_type, access.get("*", frozenset())) and any(
        s.grants(resource_type, "s") for s in parse_scopes(scope_text)
    )
    if not may_search:
        assert response.status_code == 403
        return
    if response.status_code != 200:
        assert response.status_code in (400, 403), response.text[:300]
        return
    for entry in response.json().get("entry", ()):
        resource = entry["resource"]
        if entry["search"]["mode"] == "match":  # what the search found: its own type, which it may search
            assert resource["resourceType"] == resource_type
        else:  # what an include added: a type this token may read
            assert _readable(role, scope_text, resource["resourceType"]), (
                role,
                scope_text,
                resource["resourceType"],
            )
        assert resource.get("id") not in seeded[THEIRS], "another practice's data"
        if staff:  # nobody here is enrolled: staff see no patient's data at all
            assert resource.get("id") not in seeded[OURS], "a patient not enrolled"
