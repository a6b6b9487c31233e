"""``python -m bench.intake_bound [sqlite|postgresql]``: the least CPU intake's write can cost, and its floor.

Issue 19 asks intake to cost at most 1.5x its floor (validating the message's resources + the bare
echo). This asks what is left once everything that is not SQLite's own work is taken away. The
referral service runs in-process as ``bench.inprocess intake`` runs it (the BaRS message, a new referral
each time); after the warm-up its database is copied (SQLite's backup API), and for the next
``BENCH_BOUND_N`` (200) messages every SQL statement every connection runs, with its parameters as the
driver received them, is recorded in its transaction, and the service's own CPU per message measured.
Those transactions are then replayed, in commit order, against the copy with the driver alone: on
SQLite the standard library's ``sqlite3`` (``BEGIN IMMEDIATE``, each statement with ``execute`` or
``executemany`` as the service ran it, ``COMMIT``; WAL, ``synchronous=FULL``, foreign keys on, as
``shared/db/engine.py`` sets), on PostgreSQL ``psycopg`` against a ``CREATE DATABASE ... TEMPLATE`` copy:
the same rows, indexes, lookups and commits, with no HTTP, no framework, no SQLAlchemy and none of the
referral's logic. Beside that, in the same process: the body's JSON parse, the schema validation of the
message's resources (``bench.wrk.validation_floor``, the floor's validation), the replay without the
search index's inserts (what fewer index rows could save at most) and, on SQLite, the replay at
``synchronous=OFF`` (what the fsync costs) and the least durable write there is: the whole body as one
row, one commit. On PostgreSQL the database's work is in its own processes, outside the service's CPU
(as in ``bench referral``'s server CPU); their CPU (``/proc/<pid>/stat`` of the backends) is printed too.

So ``bound = parse + validation + replay`` is what a process that did nothing but these would spend,
and ``bound / validation`` is the least "x floor" intake could reach with this schema and durability
before adding the HTTP server's share (which the floor carries as the bare echo's, and intake's own
server would at least match). Prints one table; ``BENCH_BOUND_ROUNDS`` (3) rounds of each timing, the
best kept (the least disturbed). Not a test.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.inprocess import _call, _environment, intake_requests

N = int(os.environ.get("BENCH_BOUND_N", "200"))
WARMUP = int(os.environ.get("BENCH_BOUND_WARMUP", "30"))
ROUNDS = int(os.environ.get("BENCH_BOUND_ROUNDS", "3"))


N = int(os.environ.get("BENCH_BOUND_N", "200"))
WARMUP = int(os.environ.get("BENCH_BOUND_WARMUP", "30"))
ROUNDS = int(os.environ.get("BENCH_BOUND_ROUNDS", "3"))
INDEX_INSERT = "INTO fhir_search_index"
OPENING = 5
"""Messages sent before the timed ones, once the service has started again after the copy: its pool's
connections opened. Recorded and replayed too (the replay's CPU is divided by ``N + OPENING``)."""


@dataclass
class Transaction:
    database: str
    statements: list[tuple[str, Any, bool]] = field(default_factory=list)
    rolled_back: bool = False


@dataclass
class Recorder:
    """Every statement of every connection while ``on``, grouped into its transaction; finished
    transactions in commit order."""

    on: bool = False
    open: dict[int, Transaction] = field(default_factory=dict)
    committed: list[Transaction] = field(default_factory=list)
    rolled_back: int = 0

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        def executed(conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
            if not self.on:
                return
            key = id(conn.connection.dbapi_connection)
            transaction = self.open.setdefault(key, Transaction(str(conn.engine.url.database)))
            transaction.statements.append((statement, list(parameters) if many else parameters, many))

        def committed(conn: Any) -> None:
            transaction = self.open.pop(id(conn.connection.dbapi_connection), None)
            if self.on and transaction is not None:
                self.committed.append(transaction)

        def rolled_back(conn: Any) -> None:
            transaction = self.open.pop(id(conn.connection.dbapi_connection), None)
            if self.on and transaction is not None:  # a read's: its statements count, its end is ROLLBACK
                transaction.rolled_back = True
                self.committed.append(transaction)
                self.rolled_back += 1

        event.listen(Engine, "before_cursor_execute", executed)
        event.listen(Engine, "commit", committed)
        event.listen(Engine, "rollback", rolled_back)


class SQLite:
    """Copies by SQLite's backup API; replays with ``sqlite3``, the service's pragmas."""

    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.copies: dict[str, Path] = {}

    @contextmanager
    def database(self) -> Iterator[None]:
        yield

    @staticmethod
    def _copy(database: str, to: Path) -> None:
        source, target = sqlite3.connect(database), sqlite3.connect(to)
        with target:
            source.backup(target)
        source.close()
        target.close()

    def snapshot(self) -> None:
        for database in sorted((self.folder / "var").rglob("*.db")):
            self.copies[str(database)] = self.folder / f"copy-{len(self.copies)}.db"
            self._copy(str(database), self.copies[str(database)])

    def backend_cpu(self) -> float:
        return 0.0

    def replay(self, transactions: list[Transaction], keep: Callable[[str], bool], synchronous: str) -> float:
        connections = {}
        for database, copy in self.copies.items():
            fresh = self.folder / f"replay-{uuid.uuid4().hex}.db"
            self._copy(str(copy), fresh)
            connection = sqlite3.connect(fresh, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={synchronous}")
            connection.execute("PRAGMA foreign_keys=ON")
            connections[database] = connection
        start = time.process_time()
        for transaction in transactions:
            connection = connections[transaction.database]
            for statement, parameters, many in transaction.statements:
                if not keep(statement):
                    continue
                if many:
                    connection.executemany(statement, parameters)
                else:
                    connection.execute(statement, parameters or ()).fetchall()
            connection.execute("ROLLBACK" if transaction.rolled_back else "COMMIT")
        cpu = time.process_time() - start
        self.replayed = {database: _counts(c.execute) for database, c in connections.items()}
        for connection in connections.values():
            connection.close()
        return 1000 * cpu / (N + OPENING)

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows by table in each of the service's databases."""
        answer = {}
        for database in self.copies:
            connection = sqlite3.connect(database)
            answer[database] = _counts(connection.execute)
            connection.close()
        return answer

    def one_row(self, bodies: list[bytes]) -> float:
        """The least durable write: each body as one row of a table with one key, one commit each."""
        connection = sqlite3.connect(self.folder / f"one-row-{uuid.uuid4().hex}.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE message (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        start = time.process_time()
        for body in bodies:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO message (body) VALUES (?)", (body,))
            connection.execute("COMMIT")
        cpu = time.process_time() - start
        connection.close()
        return 1000 * cpu / len(bodies)


class PostgreSQL:
    """A database of its own; copies by ``CREATE DATABASE ... TEMPLATE``; replays with ``psycopg``."""

    name = "postgresql"

    def __init__(self, folder: Path) -> None:
        from bench.referral import PG_ADMIN

        self.admin = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
        self.name_ = f"painreview_bench_bound_{uuid.uuid4().hex[:8]}"
        self.copies: list[str] = []
        self.made: list[str] = []

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def _url(self, name: str) -> str:
        return f"{self.admin.rsplit('/', 1)[0]}/{name}"

    @contextmanager
    def database(self) -> Iterator[None]:
        self._admin(f'CREATE DATABASE "{self.name_}"')
        self.made.append(self.name_)
        os.environ["REFERRAL_DATABASE_URL"] = self._url(self.name_).replace(
            "postgresql://", "postgresql+psycopg://"
        )
        try:
            yield
        finally:
            os.environ.pop("REFERRAL_DATABASE_URL", None)
            for name in self.made:
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _template_copy(self, source: str) -> str:
        name = f"{source}_{len(self.made)}"
        self._admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{source}' "
            "AND pid <> pg_backend_pid()"
        )
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        self.made.append(name)
        return name

    def snapshot(self) -> None:
        self.copies = [self._template_copy(self.name_)]

    def backend_cpu(self) -> float:
        """CPU seconds so far of the backends connected to the service's database."""
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            pids = [
                row[0]
                for row in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name_,)
                ).fetchall()
            ]
        return sum(_process_cpu(pid) for pid in pids)

    def replay(self, transactions: list[Transaction], keep: Callable[[str], bool], synchronous: str) -> float:
        import psycopg

        fresh = self._template_copy(self.copies[0])
        with psycopg.connect(self._url(fresh)) as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
            conn.commit()
            backend_start = _process_cpu(backend)
            start = time.process_time()
            for transaction in transactions:
                with conn.cursor() as cursor:
                    for statement, parameters, many in transaction.statements:
                        if not keep(statement):
                            continue
                        if many:
                            cursor.executemany(statement, parameters)
                        else:
                            cursor.execute(statement, parameters)
                            if cursor.description:
                                cursor.fetchall()
                if transaction.rolled_back:
                    conn.rollback()
                else:
                    conn.commit()
            cpu = time.process_time() - start
            self.replay_backend_ms = 1000 * (_process_cpu(backend) - backend_start) / (N + OPENING)
            self.replayed = {self.name_: _counts(conn.execute)}
        return 1000 * cpu / (N + OPENING)

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows by table in the service's database."""
        import psycopg

        with psycopg.connect(self._url(self.name_)) as conn:
            return {self.name_: _counts(conn.execute)}


def _counts(execute: Callable[..., Any]) -> dict[str, int]:
    """Rows by table: the service's tables (``fhir_*``, the outbox, requests), as the replay's check."""
    tables = [
        row[0]
        for row in execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            if execute.__self__.__class__.__module__.startswith("sqlite3")
            else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    ]
    return {t: execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(tables)}


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _record(
    folder: Path, store: SQLite | PostgreSQL, recorder: Recorder
) -> tuple[float, float, list[bytes]]:
    """Run the service, copy its database after the warm-up, record the next ``N`` messages: the
    service's CPU per message over them, its database's (PostgreSQL's backends), the bodies."""
    from bench.harness import token as mint
    from painreview.standalone import create_service_app
    from shared.web.process import freeze_startup_objects

    make = intake_requests(folder)
    token = mint(folder)

    async def send(app: Any, messages: list[tuple[bytes, str]]) -> None:
        for body, request_id in messages:
            status, answer = await _call(app, "POST", "/fhir/$process-message", token, body, request_id)
            if status != 201:
                raise RuntimeError(f"{status}: {answer[:300]!r}")

    app = create_service_app("referral")
    freeze_startup_objects()
    async with app.router.lifespan_context(app):
        await send(app, [make(n) for n in range(WARMUP)])
        await asyncio.sleep(0.5)  # the relay's publishes of the warm-up, before the copy
    store.snapshot()
    app = create_service_app("referral")
    batch = [make(WARMUP + OPENING + n) for n in range(N)]
    recorder.on = True  # from the start, so that the copy and the replay end alike
    async with app.router.lifespan_context(app):
        await send(app, [make(WARMUP + n) for n in range(OPENING)])  # its connections opened
        await asyncio.sleep(0.5)
        backend, start = store.backend_cpu(), time.process_time()
        await send(app, batch)
        await asyncio.sleep(0.5)  # the relay's publishes of the batch
        cpu, backend = time.process_time() - start, store.backend_cpu() - backend
        recorder.on = False
    return 1000 * cpu / N, 1000 * backend / N, [body for body, _ in batch]


def _timed(work: Callable[[], None]) -> float:
    start = time.process_time()
    work()
    return 1000 * (time.process_time() - start) / N


def _measure(kind: str, validation: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-bound-") as name:
        folder = Path(name)
        _environment("referral", folder)
        store: SQLite | PostgreSQL = SQLite(folder) if kind == "sqlite" else PostgreSQL(folder)
        recorder = Recorder()
        recorder.install()
        with store.database():
            service_cpu, service_backend, bodies = asyncio.run(_record(folder, store, recorder))
            transactions = recorder.committed
            rows = sum(
                len(p) if many else 1
                for t in transactions
                for s, p, many in t.statements
                if s.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE")
            )
            statements = sum(len(t.statements) for t in transactions)
            everything = lambda _s: True  # noqa: E731
            replay = min(store.replay(transactions, everything, "FULL") for _ in range(ROUNDS))
            if store.replayed != store.counts():  # the replay wrote what the service wrote, table by table
                raise RuntimeError(f"replay differs: {store.replayed} against {store.counts()}")
            backend = getattr(store, "replay_backend_ms", 0.0)
            no_index = min(
                store.replay(transactions, lambda s: INDEX_INSERT not in s, "FULL") for _ in range(ROUNDS)
            )
            parse = min(_timed(lambda: [json.loads(b) for b in bodies]) for _ in range(ROUNDS))
            figures = [
                ("service, in-process (ASGI app, no HTTP server)", service_cpu),
                ("floor's validation (schema, the message's resources)", validation),
                ("JSON parse of the body", parse),
                (f"replay: the same SQL, {store.name} driver alone", replay),
                ("replay without the search index's inserts", no_index),
            ]
            if isinstance(store, SQLite):
                figures.append(
                    (
                        "replay at synchronous=OFF",
                        min(store.replay(transactions, everything, "OFF") for _ in range(ROUNDS)),
                    )
                )
                figures.append(
                    (
                        "the whole body as one row, one commit (FULL)",
                        min(store.one_row(bodies) for _ in range(ROUNDS)),
                    )
                )
            else:
                figures.append(("  PostgreSQL's backends, serving the service", service_backend))
                figures.append(("  PostgreSQL's backend, serving the replay", backend))
            bound = parse + validation + replay
            figures.append(("bound = parse + validation + replay", bound))
    print(
        f"{kind}: {N} messages after {WARMUP} of warm-up; {len(transactions)} transactions, "
        f"{recorder.rolled_back} rolled back; {statements / (N + OPENING):.1f} statements and "
        f"{rows / (N + OPENING):.1f} rows "
        f"written a message; the best of {ROUNDS} for each replay"
    )
    for label, value in figures:
        print(f"  {label:<62} {value:8.3f} ms/msg")
    print(f"  {'bound / validation (the least x floor, before any HTTP)':<62} {bound / validation:8.2f}")
    print(f"  {'service / bound':<62} {service_cpu / bound:8.2f}")


def main(argv: list[str]) -> int:
    from bench.wrk import validation_floor

    kinds = argv or ["sqlite", "postgresql"]
    if any(k not in ("sqlite", "postgresql") for k in kinds):
        print(__doc__)
        return 2
    validation = validation_floor()["validation_cpu_ms_per_message"]
    for kind in kinds:
        _measure(kind, validation)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
