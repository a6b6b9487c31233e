"""The X-Request-Id claim on both databases: once per practice, and a concurrent twin loses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from shared.auth import parse_scopes
from shared.core.principal import Principal
from shared.db import make_engine
from shared.fhir import Duplicate, kernel_metadata
from shared.fhir.audit import RequestContext
from shared.fhir.idempotency import claim
from shared.fhir.tables import request_table


def context(request_id: str, practice: str = "A81001") -> RequestContext:
    principal = Principal("client", practice, "gp-system", parse_scopes("system/*.cruds"))
    return RequestContext(principal, request_id, "correlation", "test")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'claims.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    kernel_metadata.create_all(engine, tables=[request_table])
    yield engine
    engine.dispose()


def claimed(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(request_table)).scalar_one())


def test_a_request_id_is_claimed_once_per_practice(engine: Engine) -> None:
    with engine.begin() as conn:
        claim(conn, context("req-1"))
    with pytest.raises(Duplicate), engine.begin() as conn:
        claim(conn, context("req-1"))
    with engine.begin() as conn:  # another practice's id of the same text is its own
        claim(conn, context("req-1", practice="B82002"))
    assert claimed(engine) == 2


def test_a_claim_rolled_back_with_its_transaction_leaves_the_id_free(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        claim(conn, context("req-2"))
        raise RuntimeError("the write failed")
    with engine.begin() as conn:
        claim(conn, context("req-2"))
    assert claimed(engine) == 1


def test_a_generated_request_id_is_not_stored(engine: Engine) -> None:
    principal = Principal("client", "A81001", "gp-system", parse_scopes("system/*.cruds"))
    ctx = RequestContext(principal, "generated", "correlation", "test", request_id_supplied=False)
    with engine.begin() as conn:
        claim(conn, ctx)
        claim(conn, ctx)
    assert claimed(engine) == 0


@pytest.mark.parametrize("first_commits", [True, False])
def test_concurrent_twins_on_postgresql_one_wins(pg_url: str, first_commits: bool) -> None:
    engine = make_engine(pg_url)
    kernel_metadata.create_all(engine, tables=[request_table])
    outcome: list[str] = []
    first = engine.connect()
    first.begin()
    claim(first, context("twin"))

    def twin() -> None:
        try:
            with engine.begin() as conn:
                claim(conn, context("twin"))  # waits for the first transaction to end
            outcome.append("claimed")
        except Duplicate:
            outcome.append("duplicate")

    thread = threading.Thread(target=twin)
    thread.start()
    thread.join(timeout=1)
    assert thread.is_alive(), "the twin must wait for the first claim's transaction"
    if first_commits:
        first.commit()
    else:
        first.rollback()
    first.close()
    thread.join(timeout=30)
    assert outcome == (["duplicate"] if first_commits else ["claimed"])
    assert claimed(engine) == 1
    engine.dispose()
