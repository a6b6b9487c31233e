"""SQLite writers of one process queue on a per-file turn instead of busy-waiting in SQLite's handler.

The proof that they queue: with SQLite's busy timeout set to 0, a second ``BEGIN IMMEDIATE`` while a
writer holds the database fails at once with "database is locked". With the turn, concurrent writers
never reach SQLite while another writes, so none of them fails and no increment is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError

from shared.db import make_engine
from shared.db.engine import writer_turn

THREADS = 4
INCREMENTS = 50


def _engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}", pool_size=THREADS)

    @event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")  # SQLite's own arbitration fails at once

    return engine


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "writers.db"
    engine = _engine(path)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    engine.dispose()
    yield path


def _read(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT n FROM counter")).scalar_one())


def test_concurrent_writers_queue_and_lose_nothing(database: Path) -> None:
    engines = [_engine(database), _engine(database)]  # two engines on one file share the turn
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer(engine: Engine) -> None:
        start.wait()
        try:
            for _ in range(INCREMENTS):
                with engine.begin() as conn:  # read, then write: a lost update if two overlapped
                    n = conn.execute(text("SELECT n FROM counter")).scalar_one()
                    conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(engines[i % 2],)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert _read(engines[0]) == THREADS * INCREMENTS  # 4 threads x 50 increments, each applied once
    assert not writer_turn(str(database)).held()


def test_the_turn_is_held_from_begin_to_commit_and_given_back(database: Path) -> None:
    engine = _engine(database)
    turn = writer_turn(str(database))
    with engine.begin() as conn:
        conn.execute(text("UPDATE counter SET n = 1"))
        assert turn.held()
    assert not turn.held()
    assert _read(engine) == 1


def test_a_rollback_gives_the_turn_back(database: Path) -> None:
    engine = _engine(database)
    turn = writer_turn(str(database))
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("UPDATE counter SET n = 7"))
        raise RuntimeError("refused half way")
    assert not turn.held()
    assert _read(engine) == 0  # nothing of the refused transaction remains


def test_closing_a_connection_in_a_transaction_gives_the_turn_back(database: Path) -> None:
    engine = _engine(database)
    turn = writer_turn(str(database))
    conn = engine.connect()
    conn.begin()
    conn.execute(text("UPDATE counter SET n = 3"))
    assert turn.held()
    conn.close()  # rolled back by the close
    assert not turn.held()
    assert _read(engine) == 0


def test_a_second_writer_in_the_same_thread_does_not_wait_for_itself(database: Path) -> None:
    """A thread that opens a second write transaction inside its own meets SQLite's refusal (here at
    once: busy timeout 0), as before the turn existed, instead of hanging on a lock it holds."""
    engine = _engine(database)
    turn = writer_turn(str(database))
    with engine.begin() as outer:
        outer.execute(text("UPDATE counter SET n = 5"))
        with pytest.raises(OperationalError, match="locked"), engine.begin():
            pass
        assert turn.held()  # still the outer transaction's
    assert not turn.held()
    assert _read(engine) == 5
