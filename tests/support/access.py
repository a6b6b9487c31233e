"""The access matrix's helpers: the protected routes of a service, one request, and a seed of each
practice's data (used by the access-matrix, staff-enrolment and auditor tests)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem

SERVICES = ("referral", "careplan", "medreview", "gpconnect")


OPEN_PATHS = {"/fhir/metadata", "/healthz", "/readyz", "/.well-known/smart-configuration"}


FHIR = {"content-type": "application/fhir+json"}


def protected_routes(system: EmbeddedSystem, service: str) -> list[tuple[str, str]]:
    paths = system.services[service].app.openapi()["paths"]
    routes = []
    for path, methods in paths.items():
        if path in OPEN_PATHS:
            continue
        for method in methods:
            concrete = path.replace("{resource_id}", "abc").replace("{version_id}", "1")
            routes.append((method.upper(), f"/{service}{concrete}"))
    return routes


def send(client: TestClient, method: str, url: str, token: str | None, body: Any = None) -> Any:
    headers = dict(FHIR)
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if method in ("POST", "PUT"):
        return client.request(method, url, json=body or {"resourceType": "Basic"}, headers=headers)
    return client.request(method, url, headers=headers)


def seed(client: TestClient, token: str) -> dict[str, dict[str, Any]]:
    patient = send(client, "POST", "/referral/fhir/Patient", token, {"resourceType": "Patient"}).json()
    request = send(
        client,
        "POST",
        "/referral/fhir/ServiceRequest",
        token,
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": f"Patient/{patient['id']}"},
        },
    ).json()
    plan = send(
        client,
        "POST",
        "/careplan/fhir/CarePlan",
        token,
        {
            "resourceType": "CarePlan",
            "status": "draft",
            "intent": "plan",
            "subject": {"reference": f"Patient/{patient['id']}"},
        },
    ).json()
    medication = send(
        client,
        "POST",
        "/medreview/fhir/MedicationRequest",
        token,
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "Codeine 30mg tablets"},
            "subject": {"reference": f"Patient/{patient['id']}"},
        },
    ).json()
    return {
        "referral/Patient": patient,
        "referral/ServiceRequest": request,
        "careplan/CarePlan": plan,
        "medreview/MedicationRequest": medication,
    }
