"""Engines for the two supported databases.

SQLite (embedded mode) runs in WAL with ``synchronous=FULL`` so a committed transaction survives a
power cut; PostgreSQL (production) is reached through psycopg 3.

SQLite takes one writer at a time. Left to SQLite, writers that find the database locked sleep in its
busy handler (1, 2, 5 ... 100 ms between tries) and the first to wake after the commit wins, not the
first to ask: under load a request could lose that race many times (intake's p99 was 20x its p50).
So the writers of one process queue on a per-file lock (``WriterTurn``) taken before ``BEGIN
IMMEDIATE`` and given back once the transaction has committed or rolled back; they are served in turn
and woken the moment the lock is free. Other processes (a CLI beside ``pain-review up``) still meet
SQLite's busy timeout.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool


class OneThreadAtATimePool(StaticPool):
    """The one connection of an in-memory SQLite database, lent to one thread at a time.

    An in-memory database lives in its connection, so every checkout must get that same connection; but
    a sqlite3 connection used by two threads at once (the outbox relay, an inbox and a request thread)
    can crash the interpreter. A thread may hold it more than once (nested checkouts); others wait.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = threading.Condition()
        self._holder: int | None = None
        self._depth = 0

    def _do_get(self) -> ConnectionPoolEntry:
        me = threading.get_ident()
        with self._turn:
            while self._holder not in (None, me):
                self._turn.wait()
            self._holder, self._depth = me, self._depth + 1
        return super()._do_get()

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        try:
            super()._do_return_conn(record)
        finally:
            with self._turn:
                self._depth = max(0, self._depth - 1)
                if self._depth == 0:
                    self._holder = None
                    self._turn.notify_all()


class WriterTurn:
    """One SQLite file's writers in this process, one at a time: the lock ``BEGIN IMMEDIATE`` would
    otherwise be fought over by busy-waiting. Held from the BEGIN until the COMMIT or ROLLBACK has run.

    A thread that already holds the turn (a second connection opened inside its own transaction) is not
    made to wait for itself: SQLite arbitrates as before. A wait longer than ``timeout`` falls back to
    SQLite's busy timeout too, rather than hanging.
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self._lock = threading.Lock()
        self._guard = threading.Lock()  # give() from two threads for one connection releases once
        self._timeout = timeout
        self._holder: int | None = None  # id() of the DBAPI connection in the transaction
        self._thread: int | None = None

    def take(self, connection: object) -> bool:
        connection = _raw(connection)
        if self._thread == threading.get_ident():
            return False
        if not self._lock.acquire(timeout=self._timeout):
            return False
        self._holder, self._thread = id(connection), threading.get_ident()
        return True

    def give(self, connection: object) -> None:
        """Give the turn back if ``connection`` holds it (commit, rollback, reset, close, invalidate)."""
        key = id(_raw(connection))
        with self._guard:
            if self._holder != key:
                return
            self._holder = self._thread = None
        self._lock.release()

    def held(self) -> bool:
        return self._lock.locked()


def _raw(connection: object) -> object:
    """The DBAPI connection itself: SQLAlchemy hands the dialect the pool's proxy of it."""
    return getattr(connection, "dbapi_connection", None) or connection


_TURNS: dict[str, WriterTurn] = {}
_TURNS_LOCK = threading.Lock()


def writer_turn(database: str) -> WriterTurn:
    """The process-wide writer turn of one SQLite file (every engine on that file shares it)."""
    key = os.path.realpath(database)
    with _TURNS_LOCK:
        return _TURNS.setdefault(key, WriterTurn())


def _serialise_writers(engine: Engine, turn: WriterTurn) -> None:
    """Take ``turn`` before BEGIN IMMEDIATE; give it back after the dialect's commit or rollback (the
    pool's reset on check-in is a rollback too) or when the connection is closed or invalidated."""
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            turn.give(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            turn.give(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Take the write lock up front: no deadlock-prone lock upgrades between writers.
        dbapi_connection = conn.connection.dbapi_connection
        turn.take(dbapi_connection)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turn.give(dbapi_connection)
            raise

    @event.listens_for(engine, "close")
    def _closed(dbapi_connection: Any, _record: Any) -> None:
        turn.give(dbapi_connection)

    @event.listens_for(engine, "invalidate")
    def _invalidated(dbapi_connection: Any, _record: Any, _exc: Any) -> None:
        turn.give(dbapi_connection)


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def is_postgres(engine_or_url: Engine | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() == "postgresql"


def sqlite_path_for(var_dir: Path, service: str) -> str:
    """The embedded database URL of one service: ``./var/<service>.db``."""
    var_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(var_dir / f'{service}.db').resolve()}"


def _normalise(url: str) -> str:
    # Accept the plain libpq form operators paste from elsewhere; we always drive psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _owner_only(database: str | None) -> None:
    """The database file readable and writable by its owner only (0600), made so before SQLite opens it;
    SQLite gives its -wal and -shm files the same permissions as the database file."""
    if not database or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        if file.exists() and stat.S_IMODE(file.stat().st_mode) & 0o077:
            file.chmod(0o600)


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, full fsync, foreign keys and a busy timeout. Bound parameters
    (NHS numbers, resource content) never appear in an exception's text or a log line."""
    url = _normalise(url)
    if is_sqlite(url):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:
            kwargs["poolclass"] = OneThreadAtATimePool  # one shared in-memory database
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
            _owner_only(make_url(url).database)
        engine = create_engine(url, echo=echo, hide_parameters=True, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy manage BEGIN so that "BEGIN IMMEDIATE" below is honoured.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        if memory:  # one connection, lent to one thread at a time: nothing to queue for

            @event.listens_for(engine, "begin")
            def _begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        else:
            _serialise_writers(engine, writer_turn(str(make_url(url).database)))
        return engine
    return create_engine(
        url, echo=echo, hide_parameters=True, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )
