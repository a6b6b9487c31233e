"""Every service's alembic history goes up, down and up again, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from shared.db import downgrade, make_engine, migrate

SERVICES = ("referral", "careplan", "medreview", "gpconnect")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_upgrade_downgrade_and_upgrade_again(service: str, database_url: str) -> None:
    engine = make_engine(database_url)
    migrations = ROOT / "services" / service / "migrations"
    try:
        migrate(migrations, engine)
        tables = set(inspect(engine).get_table_names())
        assert {"fhir_resource", "fhir_resource_history", "fhir_search_index", "fhir_request"} <= tables
        assert {"outbox", "inbox", "dead_letter"} <= tables
        downgrade(migrations, engine)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate(migrations, engine)
        assert "fhir_resource" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
