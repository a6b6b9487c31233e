"""A batched unit of work keeps what it creates and inserts it all in three multi-row statements (the
current versions, every version into history, the search index), the operation's AuditEvent with it:
what keeps a BaRS intake (twenty resources, a Task written three times) from paying per resource."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, func, select

from shared.core.principal import Principal
from shared.db import make_engine
from shared.fhir import FhirKernel, RequestContext, UnitOfWork, kernel_metadata
from shared.fhir.tables import history_table, resource_table
from tests.support.auth import HeaderAuthenticator

A, B = "A81001", "B82002"


@pytest.fixture
def engine(tmp_path: Any) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'batched.db'}")
    kernel_metadata.create_all(made)
    yield made
    made.dispose()


def unit(engine: Engine, conn: Connection) -> UnitOfWork:
    kernel = FhirKernel(service="test", engine=engine, authenticator=HeaderAuthenticator())
    principal = Principal(client_id="gp", practice=A, role="gp-system", scopes=frozenset())
    ctx = RequestContext(principal, "req-1", "corr-1", "test", False)
    return UnitOfWork(kernel, conn, ctx, batched=True)


def rows(conn: Connection, table: Any = resource_table) -> list[tuple[str, str, int, str]]:
    query = select(table.c.resource_type, table.c.id, table.c.version_id, table.c.practice)
    return sorted(tuple(r) for r in conn.execute(query).all())  # type: ignore[misc]


def observation(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": f"score {n}"},
        "subject": {"reference": "Patient/p1"},
    }


def test_what_is_created_is_kept_read_back_and_inserted_in_three_statements(engine: Engine) -> None:
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)

    with engine.begin() as conn:
        uow = unit(engine, conn)
        made = [uow.create(observation(n), activity=None) for n in range(10)]
        moved = uow.replace({**made[0], "status": "amended"}, activity=None)
        assert moved["meta"]["versionId"] == "2"
        assert uow.read("Observation", made[0]["id"])["status"] == "amended"  # the kept version
        assert rows(conn) == []  # nothing inserted yet
        event.listen(engine, "before_cursor_execute", count)
        try:
            uow.flush(audit={"resourceType": "AuditEvent", "recorded": "2024-01-01T00:00:00Z"})
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(inserts) == 3, inserts
        current = rows(conn)
        assert len(current) == 11 and ("Observation", made[0]["id"], 2, A) in current
        assert len(rows(conn, history_table)) == 12  # both versions of the amended one
        assert not uow.pending


def test_a_search_sees_what_is_kept(engine: Engine) -> None:
    with engine.begin() as conn:
        uow = unit(engine, conn)
        made = uow.create(observation(1), activity=None)
        found = uow.search("Observation", [("_id", made["id"])])
        assert [r["id"] for r in found.resources] == [made["id"]]


def test_a_copy_for_another_practice_shares_the_batch_and_files_under_its_practice(engine: Engine) -> None:
    with engine.begin() as conn:
        uow = unit(engine, conn)
        other = uow.owned_by(B)
        theirs = other.create(observation(1), activity=None)
        other.flush()  # the copy's flush empties the shared batch: the original inserts nothing twice
        ours = uow.create(observation(2), activity=None)
        uow.flush()
        assert rows(conn) == sorted([("Observation", theirs["id"], 1, B), ("Observation", ours["id"], 1, A)])


def test_one_provenance_signs_every_version_written_without_one(engine: Engine) -> None:
    with engine.begin() as conn:
        uow = unit(engine, conn)
        first = uow.create(observation(1), activity=None)
        second = uow.replace({**first, "status": "amended"}, activity=None)
        uow.sign("CREATE")
        uow.flush()
        provenances = [r for r in rows(conn) if r[0] == "Provenance"]
        assert len(provenances) == 1
        count = conn.execute(select(func.count()).select_from(resource_table)).scalar_one()
        assert count == 2
        stored = uow.search("Provenance", []).resources[0]
        assert [t["reference"] for t in stored["target"]] == [
            f"Observation/{first['id']}/_history/1",
            f"Observation/{second['id']}/_history/2",
        ]


def test_a_create_with_its_own_provenance_keeps_both_with_their_ids(engine: Engine) -> None:
    with engine.begin() as conn:
        uow = unit(engine, conn)
        made = uow.create(observation(1))  # activity CREATE: a Provenance of its own, kept too
        uow.flush()
        stored = uow.search("Provenance", []).resources
        assert len(stored) == 1 and stored[0]["id"]
        assert stored[0]["target"] == [{"reference": f"Observation/{made['id']}/_history/1"}]
        assert sorted(r[0] for r in rows(conn)) == ["Observation", "Provenance"]
