"""One FHIR test client for a kernel: a ``FhirKernel`` over SQLite (or a PostgreSQL URL) with the
fake ``HeaderAuthenticator``, served by the same ``service_app`` every service uses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shared.db import make_engine
from shared.fhir import FhirKernel, kernel_metadata
from shared.web import service_app
from tests.support.auth import HeaderAuthenticator, as_practice

__all__ = [
    "FHIR",
    "NHS",
    "RESOURCES",
    "build_kernel",
    "create",
    "kernel_app",
    "kernel_client",
    "make_client",
    "patient",
]

FHIR = {"content-type": "application/fhir+json"}
NHS = "https://fhir.nhs.uk/Id/nhs-number"
RESOURCES = ("Patient", "ServiceRequest", "Observation", "AuditEvent", "Provenance")


def build_kernel(engine: Engine, service: str = "test", resources: Iterable[str] = RESOURCES) -> FhirKernel:
    """A kernel over ``engine`` that serves ``resources`` and admits callers by ``as_practice``."""
    kernel = FhirKernel(service=service, engine=engine, authenticator=HeaderAuthenticator())
    for resource_type in resources:
        kernel.resource(resource_type)
    return kernel


def kernel_app(kernel: FhirKernel, title: str | None = None) -> FastAPI:
    return service_app(kernel, title=title or kernel.service)


def kernel_client(kernel: FhirKernel, practice: str = "A81001", title: str | None = None) -> TestClient:
    """A test client of ``kernel``'s app, calling as ``practice`` unless a request says otherwise."""
    return TestClient(kernel_app(kernel, title), headers=as_practice(practice))


def make_client(url: str) -> tuple[TestClient, Engine]:
    """A fresh kernel's tables at ``url`` and a client of it (the caller disposes of the engine)."""
    engine = make_engine(url)
    kernel_metadata.create_all(engine)
    return kernel_client(build_kernel(engine), title="test"), engine


def patient(nhs_number: str = "9990000018", family: str = "Smith") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": NHS, "value": nhs_number}],
        "name": [{"family": family, "given": ["Alex"]}],
        "birthDate": "1970-01-01",
    }


def create(client: TestClient, resource: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource, headers={**FHIR, **headers})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
