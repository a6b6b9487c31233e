"""Every service's alembic history goes up, down and up again, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, inspect, select

from shared.db import downgrade, make_engine, migrate
from shared.fhir.searchparams import UNRESOLVED_PATIENT
from shared.fhir.tables import history_table, resource_table

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


def test_careplan_definitions_seeded_under_its_old_tenant_move_to_the_kernels_shared_one(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    migrations = ROOT / "services" / "careplan" / "migrations"
    row = {"resource_type": "CodeSystem", "id": "careplan-interventions", "version_id": 1, "deleted": False}
    moment = datetime.now(UTC)
    try:
        migrate(migrations, engine, "careplan_0004")
        with engine.begin() as conn:
            conn.execute(
                insert(resource_table),
                {**row, "last_updated": moment, "practice": "#service", "patient": None, "content": "{}"},
            )
            conn.execute(
                insert(history_table),
                {**row, "last_updated": moment, "practice": "#service", "method": "PUT", "content": "{}"},
            )
        migrate(migrations, engine)
        with engine.connect() as conn:
            assert conn.execute(select(resource_table.c.practice)).scalars().all() == ["#shared"]
            assert conn.execute(select(history_table.c.practice)).scalars().all() == ["#shared"]
        downgrade(migrations, engine, "careplan_0004")
        with engine.connect() as conn:
            assert conn.execute(select(resource_table.c.practice)).scalars().all() == ["#service"]
    finally:
        downgrade(migrations, engine)
        engine.dispose()


PREVIOUS = {"referral": "referral_0004", "careplan": "careplan_0005", "medreview": "medreview_0003"}


@pytest.mark.parametrize("service", [*PREVIOUS, "gpconnect"])
def test_resources_stored_without_their_patient_get_it_recorded(service: str, database_url: str) -> None:
    """Rows written before absolute and identifier-only references were resolved had no patient, so staff
    saw them whatever the enrolment (issue 16, finding 4): the migration records it as writes now do."""
    engine = make_engine(database_url)
    migrations = ROOT / "services" / service / "migrations"
    moment = datetime.now(UTC)
    rows = {
        "absolute": {"subject": {"reference": "https://gp.example/fhir/Patient/p-1/_history/2"}},
        "identifier": {"subject": {"identifier": {"value": "9990000018"}}},
        "none": {},
    }
    try:
        migrate(migrations, engine, PREVIOUS.get(service, "gpconnect_0005"))
        with engine.begin() as conn:
            for name, content in rows.items():
                resource = {"resourceType": "MedicationRequest", "id": name, **content}
                conn.execute(
                    insert(resource_table),
                    {
                        "resource_type": "MedicationRequest",
                        "id": name,
                        "version_id": 1,
                        "deleted": False,
                        "last_updated": moment,
                        "practice": "A81001",
                        "patient": None,
                        "content": json.dumps(resource),
                    },
                )
        migrate(migrations, engine)
        with engine.connect() as conn:
            found = dict(conn.execute(select(resource_table.c.id, resource_table.c.patient)).all())
        assert found == {"absolute": "Patient/p-1", "identifier": UNRESOLVED_PATIENT, "none": None}
    finally:
        downgrade(migrations, engine)
        engine.dispose()
