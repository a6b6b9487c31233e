"""Every event delivered twice on purpose has one effect; a poison event reaches the dead-letter subject
after the redelivery limit and replays cleanly once the handler is fixed."""

from __future__ import annotations

import nats
import pytest
from bus_int_support import apply_effect, effect_counts, emit_many, event_for, running
from sqlalchemy import Connection

from shared.bus import InProcessTransport, NatsTransport, Receipt
from shared.bus.nats_consumer import durable_name
from shared.contracts import CloudEvent, to_json
from shared.outbox import nats_dead_letters, outbox_lag, replay_nats_dead_letter
from tests.support import eventually_async

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

N = 1000


class DoublingTransport(InProcessTransport):
    """Delivers every event twice, as an at-least-once transport may."""

    async def publish(self, event: CloudEvent) -> Receipt:
        await super().publish(event)
        return await super().publish(event)


async def test_every_event_delivered_twice_in_process_has_one_effect(make_pg) -> None:
    producer, consumer = make_pg("referral"), make_pg("careplan")
    async with running(producer, consumer, DoublingTransport()) as run:
        emit_many(producer, [event_for(i) for i in range(N)])
        await eventually_async(
            lambda: outbox_lag(producer).unpublished == 0, within=120, what="outbox drained", in_thread=True
        )
        assert isinstance(run.transport, DoublingTransport)
    assert effect_counts(consumer) == (N, N)


async def test_every_event_in_the_stream_twice_has_one_effect_over_nats(make_pg, nats_settings) -> None:
    producer, consumer = make_pg("referral"), make_pg("careplan")
    events = [event_for(i) for i in range(N)]
    nc = await nats.connect(nats_settings.servers[0])
    js = nc.jetstream()
    try:
        async with running(producer, consumer, NatsTransport(nats_settings)):
            emit_many(producer, events)
            await eventually_async(
                lambda: effect_counts(consumer)[1] == N,
                within=120,
                what="first copies applied",
                in_thread=True,
            )
            for event in events:  # a second copy of each, past the stream's deduplication
                await js.publish(
                    nats_settings.subject_for(event.type),
                    to_json(event),
                    headers={"Nats-Msg-Id": f"{event.id}:again"},
                )
            info = await js.stream_info(nats_settings.stream)
            assert info.state.messages == 2 * N
            consumer_name = durable_name("careplan", "referral.accepted.v1")

            async def consumed() -> bool:
                state = await js.consumer_info(nats_settings.stream, consumer_name)
                return bool(state.ack_floor.stream_seq >= info.state.last_seq)

            await eventually_async(consumed, within=30, what="the second copies consumed")
    finally:
        await nc.close()
    assert effect_counts(consumer) == (N, N)


class Switchable:
    def __init__(self, poison_id: str) -> None:
        self.poison_id, self.broken, self.calls = poison_id, True, 0

    def __call__(self, conn: Connection, event: CloudEvent) -> None:
        if event.id == self.poison_id:
            self.calls += 1
            if self.broken:
                raise KeyError("dosage.timing")
        apply_effect(conn, event)


async def test_a_poison_event_is_dead_lettered_over_nats_and_replays_once_fixed(
    make_pg, nats_settings
) -> None:
    producer, consumer = make_pg("referral"), make_pg("careplan")
    events = [event_for(i) for i in range(50)]
    poison = events[10]
    handler = Switchable(poison.id)
    async with running(
        producer, consumer, NatsTransport(nats_settings), handler=handler, max_deliver=3
    ) as run:
        emit_many(producer, events)
        await eventually_async(
            lambda: effect_counts(consumer)[1] == 49,
            within=120,
            what="all but the poison applied",
            in_thread=True,
        )
        js = run.transport.jetstream  # type: ignore[attr-defined]
        letters = await eventually_async(
            lambda: nats_dead_letters(js, nats_settings), within=30, what="the poison event dead-lettered"
        )
        [letter] = letters
        assert (letter.consumer, letter.event_id, letter.type, letter.attempts) == (
            "careplan", poison.id, poison.type, 3,
        )  # fmt: skip
        assert letter.error.startswith("KeyError")
        assert handler.calls >= 3  # a batch that fails is re-run event by event, so maybe more
        sequence = int(letter.id.removeprefix("nats:"))
        raw = await js.get_msg(nats_settings.stream, sequence)
        assert raw.subject == f"{nats_settings.subject_prefix}.deadletter.careplan"
        assert raw.headers["ce-type"] == poison.type  # the original headers travel with it
        assert raw.headers["Painreview-Original-Subject"] == nats_settings.subject_for(poison.type)

        handler.broken = False
        await replay_nats_dead_letter(js, nats_settings, sequence)
        await eventually_async(
            lambda: effect_counts(consumer)[1] == 50,
            within=120,
            what="the replayed event applied",
            in_thread=True,
        )
        assert await nats_dead_letters(js, nats_settings) == []
        with pytest.raises(Exception):
            await replay_nats_dead_letter(js, nats_settings, sequence)
    assert effect_counts(consumer) == (50, 50)
