"""``ResourceStore.create_many`` on both databases: the rows ``create`` then ``update`` would write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from shared.core.principal import Tenancy
from shared.db import make_engine
from shared.fhir import ResourceStore, kernel_metadata
from shared.fhir.store_write import stamp
from shared.fhir.tables import history_table

PRACTICE = "A81001"
NHS = "https://fhir.nhs.uk/Id/nhs-number"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    engine = make_engine(url)
    kernel_metadata.create_all(engine)
    yield engine
    engine.dispose()


def patient(rid: str, nhs: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": rid, "identifier": [{"system": NHS, "value": nhs}]}


def task(rid: str, patient_id: str, status: str) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": rid,
        "status": status,
        "intent": "order",
        "for": {"reference": f"Patient/{patient_id}"},
    }


def search(store: ResourceStore, conn: Connection, kind: str, **params: str) -> list[str]:
    query = ResourceStore().query(kind, list(params.items()))
    return sorted(r["id"] for r in store.search(conn, query, tenants=Tenancy({PRACTICE})).resources)


def test_new_resources_with_their_versions_read_search_and_history_as_if_written_one_by_one(
    engine: Engine,
) -> None:
    store, start = ResourceStore(), datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    patients = [[stamp(patient(f"p{i}", f"999000000{i}"), 1, start)] for i in range(3)]
    versions = [
        stamp(task("t1", "p0", status), n, start + timedelta(seconds=n))
        for n, status in enumerate(("requested", "accepted", "in-progress"), start=1)
    ]
    with engine.begin() as conn:
        store.create_many(conn, [*patients, versions], practice=PRACTICE)
    with engine.connect() as conn:
        assert store.read(conn, "Task", "t1", tenants=Tenancy({PRACTICE})) == versions[-1]
        assert store.vread(conn, "Task", "t1", 1, tenants=Tenancy({PRACTICE})) == versions[0]
        total, history = store.history(conn, "Task", "t1", tenants=Tenancy({PRACTICE}), count=10)
        assert total == 3
        assert [(v.version_id, v.method, v.last_updated) for v in history] == [
            (3, "PUT", "2026-01-02T03:04:08.006Z"),
            (2, "PUT", "2026-01-02T03:04:07.006Z"),
            (1, "POST", "2026-01-02T03:04:06.006Z"),
        ]
        # Only the current version is indexed: the Task is found by its last status, not its first.
        assert search(store, conn, "Task", status="in-progress") == ["t1"]
        assert search(store, conn, "Task", status="requested") == []
        assert search(store, conn, "Task", patient="Patient/p0") == ["t1"]
        assert search(store, conn, "Patient", identifier=f"{NHS}|9990000002") == ["p2"]
        rows = conn.execute(select(history_table.c.practice).where(history_table.c.id == "t1")).all()
        assert {row.practice for row in rows} == {PRACTICE}


def test_nothing_to_insert_writes_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        ResourceStore().create_many(conn, [], practice=PRACTICE)
    with engine.connect() as conn:
        assert conn.execute(select(history_table)).first() is None


def test_other_practices_do_not_see_them(engine: Engine) -> None:
    store = ResourceStore()
    with engine.begin() as conn:
        store.create_many(
            conn, [[stamp(patient("p9", "9990000099"), 1, datetime.now(UTC))]], practice=PRACTICE
        )
    with engine.connect() as conn:
        assert search(store, conn, "Patient", identifier="9990000099") == ["p9"]
        query = store.query("Patient", [("identifier", "9990000099")])
        assert store.search(conn, query, tenants=Tenancy({"B82002"})).resources == []
