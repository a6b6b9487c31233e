"""Processes killed with SIGKILL at the worst moments lose no event and apply none twice.

Each scenario runs the relay and/or the consumer in a real subprocess (``bus_worker.py``), kills it, and
starts a new one; PostgreSQL holds the outbox and the inbox, NATS (the shared server, a private stream)
or the in-process transport carries the events.
"""

from __future__ import annotations

import pytest
from bus_int_support import (
    Worker,
    effect_counts,
    emit_many,
    event_for,
    published_count,
    running,
    url_of,
)

from shared.bus import NatsSettings, NatsTransport
from shared.bus.nats_consumer import durable_name
from shared.outbox import OutboxRelay, outbox_lag
from tests.support import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

N = 3000


def _nats_args(settings: NatsSettings) -> list[str]:
    return ["--nats", settings.servers[0], "--stream", settings.stream, "--prefix", settings.subject_prefix]


async def test_relay_killed_between_commit_and_publish_over_nats(make_pg, nats_settings, tmp_path) -> None:
    producer, consumer = make_pg("referral"), make_pg("careplan")
    events = [event_for(i) for i in range(N)]
    emit_many(producer, events)  # every event committed; none published yet
    relay_args = ["--transport", "nats", "--producer", url_of(producer), *_nats_args(nats_settings)]
    async with running(None, consumer, NatsTransport(nats_settings)) as run:
        first = Worker(tmp_path, *relay_args, "--max-in-flight", "4")
        await first.ready()
        await eventually_async(
            lambda: published_count(producer) >= N // 4,
            within=120,
            what="a quarter published",
            in_thread=True,
        )
        first.kill()  # some rows published and confirmed but not yet marked, the rest not yet sent
        left = outbox_lag(producer).unpublished
        assert 0 < left < N
        at_kill = await run.transport.jetstream.stream_info(nats_settings.stream)  # type: ignore[attr-defined]
        assert at_kill.state.messages >= N - left, "a row was marked published without a PubAck"
        second = Worker(tmp_path, *relay_args)
        await second.ready()
        await eventually_async(
            lambda: effect_counts(consumer)[1] == N, within=120, what=f"{N} effects", in_thread=True
        )
        second.terminate()
        info = await run.transport.jetstream.stream_info(  # type: ignore[attr-defined]
            nats_settings.stream, subjects_filter=nats_settings.subject_for("referral.accepted.v1")
        )
    assert effect_counts(consumer) == (N, N)
    assert outbox_lag(producer).unpublished == 0
    assert info.state.messages == N, "re-published rows must be dropped by Nats-Msg-Id"


async def test_relay_and_consumer_killed_together_in_process(make_pg, tmp_path) -> None:
    producer, consumer = make_pg("referral"), make_pg("careplan")
    emit_many(producer, [event_for(i) for i in range(N)])
    args = ["--transport", "inprocess", "--producer", url_of(producer), "--consumer", url_of(consumer)]
    first = Worker(tmp_path, *args, "--max-in-flight", "4")
    await first.ready()
    await eventually_async(
        lambda: effect_counts(consumer)[1] >= N // 4, within=120, what="a quarter applied", in_thread=True
    )
    first.kill()  # effects committed for some events whose outbox rows are not marked published
    assert 0 < outbox_lag(producer).unpublished < N
    assert effect_counts(consumer)[1] >= published_count(producer), "marked published before applied"
    second = Worker(tmp_path, *args)
    await second.ready()
    await eventually_async(
        lambda: outbox_lag(producer).unpublished == 0, within=120, what="outbox drained", in_thread=True
    )
    second.terminate()
    assert effect_counts(consumer) == (N, N)


async def test_consumer_killed_after_its_effect_before_its_ack_over_nats(
    make_pg, nats_settings, tmp_path
) -> None:
    producer, consumer = make_pg("referral"), make_pg("careplan")
    emit_many(producer, [event_for(i) for i in range(N)])
    transport = NatsTransport(nats_settings)
    await transport.start()
    relay = OutboxRelay(producer, transport)
    await relay.start()
    try:
        assert await relay.wait_idle(120)
        consumer_args = ["--transport", "nats", "--consumer", url_of(consumer), *_nats_args(nats_settings)]
        mortal = Worker(tmp_path, *consumer_args, "--die-after-commits", "3", "--ack-wait", "2")
        await mortal.ready()
        assert await mortal.died(60) == -9
        applied_before_restart = effect_counts(consumer)
        assert 0 < applied_before_restart[0] < N
        survivor = Worker(tmp_path, *consumer_args, "--ack-wait", "2")
        await survivor.ready()
        await eventually_async(
            lambda: effect_counts(consumer)[1] == N, within=120, what=f"{N} effects", in_thread=True
        )
        # The survivor may apply every new event before the dead one's ack wait runs out: wait for the
        # unacknowledged batch to come again and be acknowledged, without a second effect.
        durable = durable_name("careplan", "referral.accepted.v1")

        async def delivered_again() -> bool:
            info = await transport.jetstream.consumer_info(nats_settings.stream, durable)
            return bool(info.delivered.consumer_seq > N and info.num_ack_pending == 0)

        await eventually_async(
            delivered_again, within=60, every=0.2, what="the unacknowledged batch delivered again"
        )
        survivor.terminate()
    finally:
        await relay.close()
        await transport.close()
    assert effect_counts(consumer) == (N, N)


async def test_consumer_killed_after_its_effect_before_the_relay_marked_it_in_process(
    make_pg, tmp_path
) -> None:
    producer, consumer = make_pg("referral"), make_pg("careplan")
    emit_many(producer, [event_for(i) for i in range(N)])
    args = ["--transport", "inprocess", "--producer", url_of(producer), "--consumer", url_of(consumer)]
    mortal = Worker(tmp_path, *args, "--die-after-commits", "3")
    await mortal.ready()
    assert await mortal.died(60) == -9
    assert 0 < effect_counts(consumer)[0] < N
    survivor = Worker(tmp_path, *args)
    await survivor.ready()
    await eventually_async(
        lambda: outbox_lag(producer).unpublished == 0, within=120, what="outbox drained", in_thread=True
    )
    survivor.terminate()
    assert effect_counts(consumer) == (N, N)
