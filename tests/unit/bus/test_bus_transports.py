"""Choosing and configuring a transport; the in-process transport's start and close rules."""

from __future__ import annotations

import asyncio

import pytest
from bus_support import accepted

from shared.bus import (
    Backoff,
    Failure,
    InProcessTransport,
    NatsSettings,
    NatsTransport,
    Outgoing,
    Receipt,
    Subscription,
    TransportClosed,
    transport_from_url,
)
from shared.contracts import to_json

pytestmark = pytest.mark.anyio


def test_no_url_means_the_in_process_transport() -> None:
    assert isinstance(transport_from_url(None), InProcessTransport)
    assert isinstance(transport_from_url("inprocess://"), InProcessTransport)


def test_a_nats_url_names_the_servers_and_stream_options() -> None:
    transport = transport_from_url("nats://n1:4222,nats://n2:4222?replicas=3&stream=PR&prefix=pr")
    assert isinstance(transport, NatsTransport)
    s = transport.settings
    assert (s.servers, s.replicas, s.stream, s.subject_prefix) == (
        ("nats://n1:4222", "nats://n2:4222"), 3, "PR", "pr",
    )  # fmt: skip
    assert s.subject_for("taper.approved.v1") == "pr.taper.approved.v1"
    config = s.stream_config()
    assert config.subjects == ["pr.>"] and config.num_replicas == 3


def test_an_unknown_bus_url_is_refused() -> None:
    with pytest.raises(ValueError, match="nats://"):
        transport_from_url("kafka://broker:9092")
    with pytest.raises(ValueError, match="nats://"):
        NatsSettings.from_url("http://n1:4222")


def test_backoff_grows_exponentially_up_to_its_cap() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert 0.8 <= Backoff(initial=1.0, jitter=0.2).delay(1) <= 1.2


async def _ok(batch):
    return [None] * len(batch)


async def test_publishing_waits_until_the_transport_has_started() -> None:
    transport = InProcessTransport()
    seen: list[str] = []

    async def handle(batch):
        seen.extend(r.event.id for r in batch)
        return [None] * len(batch)

    async def sink(letter) -> None:
        raise AssertionError("no dead letters expected")

    await transport.subscribe(Subscription("careplan", ("referral.accepted.v1",), handle, sink))
    event = accepted()
    publishing = asyncio.create_task(transport.publish(event))
    await asyncio.sleep(0.05)
    assert not publishing.done() and seen == []
    await transport.start()
    await asyncio.wait_for(publishing, 2)
    assert seen == [event.id]
    assert (await transport.health()).ok
    await transport.close()
    assert not (await transport.health()).ok
    with pytest.raises(TransportClosed):
        await transport.publish(event)


async def test_an_event_nobody_subscribed_to_is_confirmed_at_once() -> None:
    transport = InProcessTransport()
    await transport.start()
    await asyncio.wait_for(transport.publish(accepted()), 1)
    await transport.close()


async def test_the_in_process_transport_needs_somewhere_to_keep_dead_letters() -> None:
    with pytest.raises(ValueError, match="dead_letter_sink"):
        await InProcessTransport().subscribe(Subscription("careplan", ("referral.accepted.v1",), _ok))


async def test_closing_fails_deliveries_still_waiting_for_a_retry() -> None:
    transport = InProcessTransport()

    async def failing(batch):
        return [Failure("down")] * len(batch)

    async def sink(letter) -> None:
        raise AssertionError("not reached")

    sub = Subscription("careplan", ("referral.accepted.v1",), failing, sink, max_deliver=5)
    await transport.subscribe(sub)
    await transport.start()
    publishing = asyncio.create_task(transport.publish(accepted()))
    await asyncio.sleep(0.1)  # first attempt failed; the retry waits ~0.5 s
    await transport.close()
    with pytest.raises(TransportClosed):
        await publishing


async def test_a_batch_delivers_what_consumers_take_and_confirms_the_rest_without_reading_it() -> None:
    transport = InProcessTransport()
    seen: list[str] = []

    async def handle(batch):
        seen.extend(r.event.id for r in batch)
        return [None] * len(batch)

    async def sink(letter) -> None:
        raise AssertionError("no dead letters expected")

    await transport.subscribe(Subscription("careplan", ("referral.accepted.v1",), handle, sink))
    taken = accepted()
    # Nobody here takes referral.received.v1: confirmed as publish() confirms it, its JSON never read
    # (an unreadable payload would fail event(), as the taken one's would).
    untaken = Outgoing("e-untaken", "referral.received.v1", "A81001", b"not read")
    batch = [untaken, Outgoing(taken.id, taken.type, taken.practice, to_json(taken)), untaken]
    publishing = asyncio.create_task(transport.publish_many(batch))
    await asyncio.sleep(0.05)
    assert not publishing.done()  # waits for the start, as publish does
    await transport.start()
    assert await asyncio.wait_for(publishing, 2) == [Receipt(), Receipt(), Receipt()]
    assert seen == [taken.id]
    await transport.close()
