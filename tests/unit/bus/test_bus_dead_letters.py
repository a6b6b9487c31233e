"""Poison events: dead-lettered after the redelivery limit, visible to operations, replayed once fixed."""

from __future__ import annotations

import pytest
from bus_support import accepted, applied, apply_effect, emit, running
from prometheus_client import REGISTRY
from sqlalchemy import Connection

from shared.contracts import CloudEvent
from shared.outbox import dead_letter_info, dead_letters, outbox_lag, request_replay
from tests.support import eventually_async

pytestmark = pytest.mark.anyio


class Switchable:
    """A handler with a bug that can be fixed while the service runs."""

    def __init__(self) -> None:
        self.broken = True
        self.calls = 0

    def __call__(self, conn: Connection, event: CloudEvent) -> None:
        self.calls += 1
        if self.broken:
            raise KeyError("dosage.timing")
        apply_effect(conn, event)


async def test_a_poison_event_is_dead_lettered_after_the_limit_and_replays_once_when_fixed(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    handler = Switchable()
    poison, fine = accepted("ServiceRequest/poison"), accepted("ServiceRequest/fine")
    labels = {"consumer": "careplan", "type": poison.type}
    dead_before = REGISTRY.get_sample_value("painreview_events_dead_lettered_total", labels) or 0
    redelivered_before = REGISTRY.get_sample_value("painreview_events_redelivered_total", labels) or 0
    async with running(producer, consumer, handler=handler, max_deliver=3) as run:
        emit(producer, [poison])
        await eventually_async(lambda: len(dead_letters(consumer, "careplan")) == 1)
        assert await run.relay.wait_idle(60)  # dead-lettered counts as handled: the relay moves on
        assert handler.calls >= 3
        [letter] = dead_letters(consumer, "careplan")
        assert (letter.consumer, letter.event_id, letter.type, letter.attempts, letter.state) == (
            "careplan", poison.id, poison.type, 3, "dead",
        )  # fmt: skip
        assert letter.error.startswith("KeyError")
        assert applied(consumer) == []
        assert outbox_lag(producer).unpublished == 0

        handler.broken = False
        emit(producer, [fine])
        await eventually_async(lambda: len(applied(consumer)) == 1)
        row_id = int(letter.id.split(":")[1])
        assert request_replay(consumer, row_id)
        await eventually_async(lambda: dead_letter_info(consumer, "careplan", row_id).state == "replayed")
        assert not request_replay(consumer, row_id)  # a replayed letter is not replayed again
        assert run.inbox.replay_requested() == 0
    assert sorted(applied(consumer)) == sorted([(poison.id, poison.subject), (fine.id, fine.subject)])
    assert dead_letters(consumer, "careplan") == []
    assert len(dead_letters(consumer, "careplan", include_replayed=True)) == 1
    assert REGISTRY.get_sample_value("painreview_events_dead_lettered_total", labels) - dead_before == 1
    assert REGISTRY.get_sample_value("painreview_events_redelivered_total", labels) - redelivered_before == 2


async def test_a_replay_that_fails_again_goes_back_to_dead(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    handler = Switchable()
    async with running(producer, consumer, handler=handler, max_deliver=1):
        emit(producer, [accepted()])
        await eventually_async(lambda: len(dead_letters(consumer, "careplan")) == 1)
        [letter] = dead_letters(consumer, "careplan")
        row_id = int(letter.id.split(":")[1])
        assert request_replay(consumer, row_id)
        await eventually_async(lambda: dead_letter_info(consumer, "careplan", row_id).state == "dead")
    info = dead_letter_info(consumer, "careplan", row_id)
    assert info is not None and info.attempts == 2
    assert applied(consumer) == []
