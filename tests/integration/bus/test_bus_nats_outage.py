"""NATS stopped for 10 s in the middle of a stream of events, then restarted: nothing lost, nothing
applied twice. Uses a private nats-server (own port, own store dir), never the shared one."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from bus_int_support import FAST, effect_counts, emit_many, event_for, running, wait_until

from shared.bus import NatsSettings, NatsTransport
from shared.outbox import outbox_lag

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

RATE = 200  # events per second, committed one transaction at a time
SECONDS = 16


async def test_a_ten_second_nats_outage_mid_stream_loses_nothing_and_doubles_nothing(
    make_pg, nats_server
) -> None:
    producer, consumer = make_pg("referral"), make_pg("careplan")
    settings = NatsSettings(
        servers=(nats_server.url,), stream="PAINREVIEW", publish_timeout=1.0, ack_wait=3.0, connect_wait=10
    )
    events = [event_for(i) for i in range(RATE * SECONDS)]

    def produce() -> None:
        start = time.monotonic()
        for i, event in enumerate(events):
            time.sleep(max(0.0, start + i / RATE - time.monotonic()))
            emit_many(producer, [event])

    async with running(producer, consumer, NatsTransport(settings), backoff=FAST, max_in_flight=64) as run:
        producing = threading.Thread(target=produce)
        producing.start()
        await asyncio.sleep(3)
        assert 0 < effect_counts(consumer)[0] < len(events), "the stream should be flowing"
        nats_server.stop()
        assert not (await run.transport.health()).ok
        await asyncio.sleep(10)
        stalled = outbox_lag(producer).unpublished
        assert stalled > RATE * 5, "commits carry on into the outbox while NATS is down"
        nats_server.start()
        await asyncio.to_thread(producing.join)
        await wait_until(lambda: effect_counts(consumer)[1] == len(events), 120, "every event applied")
        assert run.relay is not None and await run.relay.wait_idle(30)
        assert (await run.transport.health()).ok
    assert effect_counts(consumer) == (len(events), len(events))
    assert outbox_lag(producer).unpublished == 0
