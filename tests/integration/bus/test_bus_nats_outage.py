"""NATS stopped for 10 s in the middle of a stream of events, then restarted: nothing lost, nothing
applied twice. Uses a private nats-server (own port, own store dir), never the shared one.

Every wait is on a condition with a generous deadline (a busy host slows the producer, the relay and
the server's restart alike); the producer thread is stopped and joined before the databases are
dropped, whatever happened."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from bus_int_support import FAST, effect_counts, emit_many, event_for, running

from shared.bus import NatsSettings, NatsTransport
from shared.outbox import outbox_lag
from tests.support import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

RATE = 200  # events per second, committed one transaction at a time
SECONDS = 16
OUTAGE_S = 10.0  # the scenario: how long NATS stays down, not a wait for something to happen
DEADLINE_S = 180.0


class Producer(threading.Thread):
    """Commits the events one transaction each at ``RATE`` a second, until done or stopped."""

    def __init__(self, engine, events) -> None:
        super().__init__(name="outage-producer")
        self.engine, self.events = engine, events
        self.produced = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        for i, event in enumerate(self.events):
            if self.stopping.wait(max(0.0, start + i / RATE - time.monotonic())):
                return
            emit_many(self.engine, [event])
            self.produced += 1


async def test_a_ten_second_nats_outage_mid_stream_loses_nothing_and_doubles_nothing(
    make_pg, nats_server
) -> None:
    producer, consumer = make_pg("referral"), make_pg("careplan")
    settings = NatsSettings(
        servers=(nats_server.url,), stream="PAINREVIEW", publish_timeout=1.0, ack_wait=3.0, connect_wait=10
    )
    events = [event_for(i) for i in range(RATE * SECONDS)]
    producing = Producer(producer, events)
    try:
        async with running(
            producer, consumer, NatsTransport(settings), backoff=FAST, max_in_flight=64
        ) as run:
            producing.start()
            await eventually_async(
                lambda: effect_counts(consumer)[0] > 0,
                within=DEADLINE_S,
                what="the stream flowing",
                in_thread=True,
            )
            nats_server.stop()
            assert effect_counts(consumer)[0] < len(events), "NATS should stop mid-stream"
            before = producing.produced
            await asyncio.sleep(OUTAGE_S)
            assert not (await run.transport.health()).ok
            during = producing.produced - before
            assert during > 0, "commits carry on into the outbox while NATS is down"
            assert outbox_lag(producer).unpublished >= during, "nothing is published while NATS is down"
            nats_server.start()
            await asyncio.to_thread(producing.join, DEADLINE_S)
            assert producing.produced == len(events)
            await eventually_async(
                lambda: effect_counts(consumer)[1] == len(events),
                within=DEADLINE_S,
                what="every event applied",
                in_thread=True,
            )
            assert run.relay is not None and await run.relay.wait_idle(DEADLINE_S)
            assert (await run.transport.health()).ok
    finally:
        producing.stopping.set()
        if producing.is_alive():
            await asyncio.to_thread(producing.join, DEADLINE_S)
    assert not producing.is_alive()
    assert effect_counts(consumer) == (len(events), len(events))
    assert outbox_lag(producer).unpublished == 0
