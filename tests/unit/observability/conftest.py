"""A small service app over SQLite, built by the same ``service_app`` every service uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shared.core.principal import Principal, parse_scopes
from shared.db import make_engine
from shared.fhir import FhirKernel, Unauthorized, kernel_metadata
from shared.web import service_app

SERVICE = "obs-test"
PRACTICE = {"x-test-practice": "A81001"}


class HeaderAuthenticator:
    """Test fake: the practice comes from a header; no header, no entry."""

    async def authenticate(self, request: Request) -> Principal:
        practice = request.headers.get("x-test-practice")
        if not practice:
            raise Unauthorized("No credentials")
        return Principal(
            client_id=f"client-{practice}",
            practice=practice,
            role="gp-system",
            scopes=parse_scopes("system/*.cruds"),
        )


def make_app(engine: Engine, service: str = SERVICE) -> FastAPI:
    kernel = FhirKernel(service=service, engine=engine, authenticator=HeaderAuthenticator())
    for resource_type in ("Patient", "AuditEvent", "Provenance"):
        kernel.resource(resource_type)
    return service_app(kernel, title=service)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'obs.db'}")
    kernel_metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(make_app(engine), headers=PRACTICE) as test_client:
        yield test_client
