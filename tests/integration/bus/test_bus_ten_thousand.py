"""10,000 events through the outbox arrive exactly once in effect, in order per subject, over each
transport, with real PostgreSQL databases for the producer and the consumer."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import pytest
import sqlalchemy as sa
from bus_int_support import effects, emit_many, event_for, running

from shared.bus import InProcessTransport, NatsSettings, NatsTransport, Transport
from shared.outbox import outbox_lag
from tests.support import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

N = 10_000


async def _ten_thousand(transport: Transport, make_pg) -> None:
    producer, consumer = make_pg("referral"), make_pg("careplan")
    events = [event_for(i) for i in range(N)]
    started = time.monotonic()
    async with running(producer, consumer, transport, max_in_flight=256) as run:
        await asyncio.to_thread(emit_many, producer, events)
        await eventually_async(
            lambda: _distinct(consumer) == N, within=240, what=f"{N} effects", in_thread=True
        )
        assert run.relay is not None and await run.relay.wait_idle(120)
    elapsed = time.monotonic() - started
    with consumer.connect() as conn:
        rows = conn.execute(
            sa.select(effects.c.event_id, effects.c.subject)
            .where(effects.c.event_id != "produced")
            .order_by(effects.c.n)
        ).all()
    assert len(rows) == N, "an event was applied twice"
    assert {r.event_id for r in rows} == {e.id for e in events}, "an event was lost"
    expected, seen = defaultdict(list), defaultdict(list)
    for e in events:
        expected[e.subject].append(e.id)
    for r in rows:
        seen[r.subject].append(r.event_id)
    assert seen == expected, "events about one subject were applied out of commit order"
    assert outbox_lag(producer).unpublished == 0
    print(f"{transport.name}: {N} events in {elapsed:.1f} s")


def _distinct(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count(sa.distinct(effects.c.event_id))).where(
                    effects.c.event_id != "produced"
                )
            ).scalar_one()
        )


async def test_ten_thousand_events_arrive_once_in_effect_in_process(make_pg) -> None:
    await _ten_thousand(InProcessTransport(), make_pg)


async def test_ten_thousand_events_arrive_once_in_effect_over_nats(
    make_pg, nats_settings: NatsSettings
) -> None:
    await _ten_thousand(NatsTransport(nats_settings), make_pg)
