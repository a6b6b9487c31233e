"""Helpers for the event backbone's integration tests: a private nats-server, a producer, a consumer."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from shared.bus import Backoff, Transport
from shared.contracts import REFERRAL_ACCEPTED_V1, CloudEvent, new_event
from shared.outbox import EventHandler, Inbox, OutboxRelay, outbox, record_events
from tests.support import eventually

effects_metadata = sa.MetaData()
effects = sa.Table(
    "effects",
    effects_metadata,
    sa.Column(
        "n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("event_id", sa.String(64), nullable=False),  # deliberately not unique: doubles must show
    sa.Column("subject", sa.String(256), nullable=False),
)

FAST = Backoff(initial=0.05, maximum=0.5, jitter=0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """A nats-server of the test's own (JetStream, file storage in a temp dir) on a free port."""

    def __init__(self, binary: str, store_dir: Path) -> None:
        self.binary, self.store_dir = binary, store_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = (self.store_dir.parent / "nats-server.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)],
            stdout=log,
            stderr=log,
        )
        log.close()

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        # generous: a busy host starts processes slowly
        eventually(listening, within=60, what="the private nats-server listening")

    def stop(self) -> None:
        """Stop the server (SIGTERM, as an operator or orchestrator would)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=15)
        self.proc = None


def event_for(i: int, subjects: int = 200) -> CloudEvent:
    subject = f"ServiceRequest/{i % subjects}"
    return new_event(
        REFERRAL_ACCEPTED_V1,
        source="/painreview/referral",
        subject=subject,
        practice="A81001",
        data={"resourceType": "ServiceRequest", "id": str(i % subjects), "status": "active"},
    )


def emit_many(engine: Engine, events: list[CloudEvent], per_transaction: int = 100) -> None:
    """A producer committing ``per_transaction`` events (and a state change) per transaction."""
    for start in range(0, len(events), per_transaction):
        chunk = events[start : start + per_transaction]
        with engine.begin() as conn:
            conn.execute(effects.insert(), [{"event_id": "produced", "subject": e.subject} for e in chunk])
            record_events(conn, chunk)


def apply_effect(conn: Connection, event: CloudEvent) -> None:
    conn.execute(effects.insert().values(event_id=event.id, subject=event.subject))


def effect_counts(engine: Engine) -> tuple[int, int]:
    """(effects applied, distinct events applied) in a consumer database."""
    with engine.connect() as conn:
        total, distinct = conn.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(effects.c.event_id))).where(
                effects.c.event_id != "produced"
            )
        ).one()
    return int(total), int(distinct)


def applied_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(effects.c.event_id).where(effects.c.event_id != "produced")).all()
    return {r.event_id for r in rows}


@dataclass
class Running:
    relay: OutboxRelay | None
    inbox: Inbox
    transport: Transport


@asynccontextmanager
async def running(
    producer: Engine | None,
    consumer: Engine,
    transport: Transport,
    *,
    handler: EventHandler = apply_effect,
    max_deliver: int = 5,
    max_batch: int = 100,
    **relay_options: Any,
) -> AsyncIterator[Running]:
    """A consumer's inbox (and a producer's relay, unless ``producer`` is None) over ``transport``."""
    inbox = Inbox(
        consumer, transport, max_deliver=max_deliver, max_batch=max_batch, backoff=FAST, replay_poll=0.1
    )
    await inbox.subscribe("careplan", [REFERRAL_ACCEPTED_V1], handler)
    await transport.start()
    await inbox.start()
    relay = None
    if producer is not None:
        relay = OutboxRelay(producer, transport, name="referral", **relay_options)
        await relay.start()
    try:
        yield Running(relay, inbox, transport)
    finally:
        if relay is not None:
            await relay.close()
        await inbox.close()
        await transport.close()


def published_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_not(None))
            ).scalar_one()
        )


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


WORKER = Path(__file__).with_name("bus_worker.py")


class Worker:
    """A real service process (``bus_worker.py``) that a test can SIGKILL."""

    def __init__(self, log_dir: Path, *args: str) -> None:
        self.log = (log_dir / f"worker-{time.monotonic_ns()}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=WORKER.parents[3],
        )

    async def ready(self, timeout: float = 120.0) -> None:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout)
        assert line.strip() == "ready", f"worker did not start: {line!r}"

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)
        self._close()

    async def died(self, timeout: float) -> int:
        code = await asyncio.wait_for(asyncio.to_thread(self.proc.wait), timeout)
        self._close()
        return int(code)

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._close()

    def _close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()
