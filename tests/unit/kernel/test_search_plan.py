"""On SQLite, a search by index parameters fetches the resources its lookup names by primary key.

Without statistics SQLite's planner took every ``=`` on an indexed column for 10 rows and walked all
the resources of the searched type and practice (``ix_fhir_resource_practice``, or
``ix_fhir_resource_type_updated`` for the page), probing the lookup's ids for each: a search's cost grew
with the practice's resources. Each service's migrations give it statistics (``sqlite_stat1``, see
``SQLITE_PLANNER_STATS_V4``); the plans below are SQLite's ``EXPLAIN QUERY PLAN`` of the statements the
store runs, captured as it runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from shared.core.principal import Tenancy
from shared.db import make_engine
from shared.db.migrate import migrate
from shared.fhir.store import ResourceStore

SERVICES = Path(__file__).resolve().parents[3] / "services"
PRIMARY_KEY = "sqlite_autoindex_fhir_resource_1"  # SQLite's name for fhir_resource's (resource_type, id)


def _plans(engine: Engine, items: list[tuple[str, str]]) -> list[list[str]]:
    """The query plan of every statement a search of Observation by ``items`` runs."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    store = ResourceStore()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.connect() as conn:
            store.search(conn, store.query("Observation", items), tenants=Tenancy({"A81001"}))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    with engine.connect() as conn:
        return [
            [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
            for sql, params in statements
        ]


@pytest.fixture(params=["referral", "careplan", "medreview", "gpconnect"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    migrate(SERVICES / request.param / "migrations", engine)
    yield engine
    engine.dispose()


def test_a_search_by_patient_and_code_reads_resources_by_primary_key(engine: Engine) -> None:
    items = [("patient", "Patient/p1"), ("code", "http://loinc.org|72514-3")]
    plans = _plans(engine, [*items, ("_count", "10")]) + _plans(engine, [*items, ("_summary", "count")])
    assert len(plans) == 2  # the page (an empty first page needs no count), then the count alone
    for plan in plans:
        resource_step = next(step for step in plan if "fhir_resource " in step)
        assert f"USING INDEX {PRIMARY_KEY} (resource_type=? AND id=?)" in resource_step, plan
        # Each parameter's ids come from the lookup index alone, not a table row per match.
        lookups = [step for step in plan if "fhir_search_index" in step]
        assert len(lookups) == 2, plan
        assert all("USING COVERING INDEX ix_fhir_search_lookup" in step for step in lookups), plan


def test_a_search_by_patient_alone_reads_resources_by_primary_key(engine: Engine) -> None:
    items = [("patient", "Patient/p1")]
    for plan in _plans(engine, items) + _plans(engine, [*items, ("_summary", "count")]):
        resource_step = next(step for step in plan if "fhir_resource " in step)
        assert PRIMARY_KEY in resource_step, plan


def test_a_search_without_parameters_pages_in_last_updated_order(engine: Engine) -> None:
    # Nothing to look up: the page walks the type's resources newest first (sorting only the ties of
    # last_updated by id) and stops at _count, as it did before the statistics.
    (page,) = _plans(engine, [("_count", "10")])
    assert "SEARCH fhir_resource USING INDEX ix_fhir_resource_type_updated (resource_type=?)" in page, page
