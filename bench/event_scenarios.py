"""The scenarios of the events benchmark (``bench/events.py``): each sets up a producer, the way events
travel and a consumer, and answers a ``send(event)`` coroutine; arrival times land in a :class:`Clock`.

``python -m bench.event_scenarios consume ...`` is the consuming service of ``outbox-nats-postgres``,
run as a separate process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import nats
from sqlalchemy import Connection, Engine, create_engine, text

from shared.bus import InProcessTransport, NatsSettings, NatsTransport, Transport
from shared.contracts import REFERRAL_ACCEPTED_V1, CloudEvent, new_event, to_json
from shared.db import make_engine
from shared.outbox import Inbox, OutboxRelay, metadata, record_events

NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

Send = Callable[[CloudEvent], Awaitable[None]]


def event_for(i: int) -> CloudEvent:
    return new_event(
        REFERRAL_ACCEPTED_V1,
        source="/painreview/bench",
        subject=f"ServiceRequest/{i % 500}",
        practice="A81001",
        data={"resourceType": "ServiceRequest", "id": str(i % 500), "status": "active", "intent": "order"},
    )


class Clock:
    """Send and arrival times (``time.monotonic``, comparable across processes on Linux) by event id."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.reset([])

    def reset(self, ids: list[str]) -> None:
        self.ids = set(ids)
        self.sent: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self.all_in = asyncio.Event()

    def arrive(self, event_id: str, at: float | None = None) -> None:
        if event_id in self.ids and event_id not in self.arrived:
            self.arrived[event_id] = time.monotonic() if at is None else at
            if len(self.arrived) >= len(self.ids):
                self.loop.call_soon_threadsafe(self.all_in.set)


async def bare_core_nats(stack: AsyncExitStack, clock: Clock) -> Send:
    nc = await nats.connect(NATS_URL)
    stack.push_async_callback(nc.close)
    subject = f"bench.core.{uuid.uuid4().hex[:8]}"

    async def received(msg: Any) -> None:
        clock.arrive(msg.headers["Nats-Msg-Id"])

    await nc.subscribe(subject, cb=received)

    async def send(event: CloudEvent) -> None:
        clock.sent[event.id] = time.monotonic()
        await nc.publish(subject, to_json(event), headers={"Nats-Msg-Id": event.id})

    return send


async def bare_jetstream(stack: AsyncExitStack, clock: Clock) -> Send:
    nc = await nats.connect(NATS_URL)
    stack.push_async_callback(nc.close)
    js = nc.jetstream()
    stream, subject = f"BENCH_BARE_{uuid.uuid4().hex[:8]}", f"benchbare.{uuid.uuid4().hex[:8]}"
    await js.add_stream(name=stream, subjects=[subject])
    stack.push_async_callback(js.delete_stream, stream)

    async def received(msg: Any) -> None:
        clock.arrive(msg.headers["Nats-Msg-Id"])
        await msg.ack()

    await js.subscribe(subject, durable="bench", cb=received, manual_ack=True, stream=stream)

    async def send(event: CloudEvent) -> None:
        clock.sent[event.id] = time.monotonic()
        await js.publish(subject, to_json(event), headers={"Nats-Msg-Id": event.id}, stream=stream)

    return send


class OutboxProducer:
    """A service committing one event per transaction from a few request threads (``await send(e)``),
    or a backlog in large transactions (``await send.bulk(events)``, for the drain measure)."""

    def __init__(self, stack: AsyncExitStack, clock: Clock, engine: Engine) -> None:
        self.clock, self.engine = clock, engine
        self.pool = ThreadPoolExecutor(4, thread_name_prefix="producer")
        stack.callback(self.pool.shutdown)

    def _commit(self, events: list[CloudEvent]) -> None:
        with self.engine.connect() as conn:
            with conn.begin():
                record_events(conn, events)
            now = time.monotonic()  # committed; the relay is woken at check-in below
            for event in events:
                self.clock.sent[event.id] = now

    async def __call__(self, event: CloudEvent) -> None:
        await asyncio.get_running_loop().run_in_executor(self.pool, self._commit, [event])

    async def bulk(self, events: list[CloudEvent]) -> None:
        for start in range(0, len(events), 500):
            await asyncio.to_thread(self._commit, events[start : start + 500])


async def _relay(stack: AsyncExitStack, producer: Engine, transport: Transport) -> None:
    relay = OutboxRelay(producer, transport, name="bench")
    await relay.start()
    stack.push_async_callback(relay.close)


def _pg_database(stack: AsyncExitStack, admin: Engine, role: str) -> Engine:
    name = f"painreview_bench_{role}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", pool_size=5)
    metadata.create_all(engine)

    def drop() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    stack.callback(drop)
    return engine


async def _watch_arrivals(clock: Clock, lines: asyncio.StreamReader) -> None:
    """Feed the clock with the arrival times the consumer process reports, a line per event."""
    while line := await lines.readline():
        event_id, _, arrived = line.decode().partition(" ")
        if arrived:
            clock.arrive(event_id, float(arrived))


async def outbox_nats_postgres(stack: AsyncExitStack, clock: Clock) -> Send:
    """Production shape: this process is the producing service (PostgreSQL + relay); the consuming
    service is another process with its own database, as in the containers of docker-compose."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    stack.callback(admin.dispose)
    producer, consumer = _pg_database(stack, admin, "producer"), _pg_database(stack, admin, "consumer")
    tag = uuid.uuid4().hex[:8]
    settings = NatsSettings(servers=(NATS_URL,), stream=f"BENCH_{tag}", subject_prefix=f"bench{tag}")

    async def drop_stream() -> None:
        nc = await nats.connect(NATS_URL)
        await nc.jetstream().delete_stream(settings.stream)
        await nc.close()

    stack.push_async_callback(drop_stream)
    transport = NatsTransport(settings)
    await transport.start()
    stack.push_async_callback(transport.close)
    consumer_url = consumer.url.render_as_string(hide_password=False)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.event_scenarios", "consume", consumer_url,
        NATS_URL, settings.stream, settings.subject_prefix, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip

    assert child.stdout is not None
    watcher: asyncio.Task[None] | None = None

    async def stop_child() -> None:
        child.send_signal(signal.SIGTERM)
        await child.wait()
        if watcher is not None:
            await watcher  # the pipe is closed: it has read every line

    stack.push_async_callback(stop_child)
    assert (await asyncio.wait_for(child.stdout.readline(), 60)).strip() == b"ready"
    watcher = asyncio.create_task(_watch_arrivals(clock, child.stdout))
    await _relay(stack, producer, transport)
    return OutboxProducer(stack, clock, producer)


async def consume(consumer_url: str, nats_url: str, stream: str, prefix: str) -> None:
    """The consuming service of ``outbox-nats-postgres``: reports each event's arrival on stdout.

    The handler's only effect is that report, as in the in-process scenario (where it is ``clock.arrive``)
    and the bare loops: what is measured is the backbone (outbox, relay, JetStream, inbox and their
    commits), not a handler's own database work.
    """
    engine = make_engine(consumer_url, pool_size=2)
    transport = NatsTransport(NatsSettings(servers=(nats_url,), stream=stream, subject_prefix=prefix))

    def handler(conn: Connection, event: CloudEvent) -> None:
        sys.stdout.write(f"{event.id} {time.monotonic()}\n")  # one write: whole lines across threads
        sys.stdout.flush()

    inbox = Inbox(engine, transport)
    await inbox.subscribe("bench", [REFERRAL_ACCEPTED_V1], handler)
    await transport.start()
    print("ready", flush=True)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await stopping.wait()
    await transport.close()
    engine.dispose()


async def outbox_inprocess_sqlite(stack: AsyncExitStack, clock: Clock) -> Send:
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-events-")))
    engines = [make_engine(f"sqlite:///{folder / name}.db") for name in ("referral", "careplan")]
    for engine in engines:
        metadata.create_all(engine)
        stack.callback(engine.dispose)
    producer, consumer = engines
    transport = InProcessTransport()

    def handler(conn: Connection, event: CloudEvent) -> None:
        clock.arrive(event.id)

    inbox = Inbox(consumer, transport)
    await inbox.subscribe("bench", [REFERRAL_ACCEPTED_V1], handler)
    await transport.start()
    stack.push_async_callback(transport.close)
    await _relay(stack, producer, transport)
    return OutboxProducer(stack, clock, producer)


SCENARIOS: dict[str, Callable[[AsyncExitStack, Clock], Awaitable[Send]]] = {
    "bare-core-nats": bare_core_nats,
    "bare-jetstream": bare_jetstream,
    "outbox-nats-postgres": outbox_nats_postgres,
    "outbox-inprocess-sqlite": outbox_inprocess_sqlite,
}


if __name__ == "__main__" and sys.argv[1:2] == ["consume"]:
    asyncio.run(consume(*sys.argv[2:6]))
