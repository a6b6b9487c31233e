"""A kernel over SQLite with a fake authenticator at the same seam the real one plugs into."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shared.core.principal import Principal, parse_scopes
from shared.db import make_engine
from shared.fhir import FhirKernel, Unauthorized, kernel_metadata
from shared.web import service_app

ALL = "system/*.cruds"


class HeaderAuthenticator:
    """Test fake: the practice and scopes come from headers; no header, no entry."""

    async def authenticate(self, request: Request) -> Principal:
        practice = request.headers.get("x-test-practice")
        if not practice:
            raise Unauthorized("No credentials")
        scopes = parse_scopes(request.headers.get("x-test-scopes", ALL))
        return Principal(client_id=f"client-{practice}", practice=practice, role="gp-system", scopes=scopes)


def build_kernel(engine: Engine) -> FhirKernel:
    kernel = FhirKernel(service="test", engine=engine, authenticator=HeaderAuthenticator())
    for resource_type in ("Patient", "ServiceRequest", "Observation", "AuditEvent", "Provenance"):
        kernel.resource(resource_type)
    return kernel


def make_client(url: str) -> tuple[TestClient, Engine]:
    engine = make_engine(url)
    kernel_metadata.create_all(engine)
    app = service_app(build_kernel(engine), title="test")
    return TestClient(app, headers={"x-test-practice": "A81001"}), engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same kernel tests run on SQLite and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kernel.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    test_client, engine = make_client(db_url)
    with test_client:
        yield test_client
    engine.dispose()
