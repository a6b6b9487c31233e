"""Outbox, relay and inbox over the in-process transport, on SQLite: the embedded mode's guarantees."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import pytest
import sqlalchemy as sa
from bus_support import FAST, accepted, applied, apply_effect, emit, running
from prometheus_client import REGISTRY
from sqlalchemy import Connection

from shared.bus import InProcessTransport, PublishError, Receipt
from shared.contracts import CloudEvent
from shared.outbox import outbox, outbox_lag, record_event
from tests.support import eventually_async

pytestmark = pytest.mark.anyio


def _published(engine: sa.Engine) -> list[tuple[int, object]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(outbox.c.attempts, outbox.c.published_at)).all()]


async def test_an_event_committed_with_its_state_change_reaches_the_consumer_once(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    event = accepted()
    async with running(producer, consumer) as run:
        emit(producer, [event])
        await eventually_async(lambda: len(applied(consumer)) == 1)
        assert await run.relay.wait_idle(60)
    assert applied(consumer) == [(event.id, event.subject)]
    [(attempts, published_at)] = _published(producer)
    assert attempts == 1 and published_at is not None


async def test_an_event_recorded_in_a_rolled_back_transaction_is_never_published(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    async with running(producer, consumer) as run:
        with pytest.raises(RuntimeError), producer.begin() as conn:
            record_event(conn, accepted())
            raise RuntimeError("the state change failed")
        emit(producer, [marker := accepted("ServiceRequest/2")])
        await eventually_async(lambda: len(applied(consumer)) == 1)
        assert await run.relay.wait_idle(60)
    assert applied(consumer) == [(marker.id, marker.subject)]


def test_record_event_refuses_to_run_outside_a_transaction(make_db) -> None:
    with make_db("referral").connect() as conn, pytest.raises(RuntimeError, match="transaction"):
        record_event(conn, accepted())


async def test_events_about_one_subject_are_applied_in_commit_order(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    events = [accepted(f"ServiceRequest/{i % 3}") for i in range(60)]
    async with running(producer, consumer) as run:
        emit(producer, events)
        await eventually_async(lambda: len(applied(consumer)) == 60)
        assert await run.relay.wait_idle(60)
    expected, seen = defaultdict(list), defaultdict(list)
    for e in events:
        expected[e.subject].append(e.id)
    for event_id, subject in applied(consumer):
        seen[subject].append(event_id)
    assert seen == expected


async def test_the_relay_is_woken_by_the_commit_not_by_its_poll(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    async with running(producer, consumer, poll_interval=30.0):
        await asyncio.sleep(0.1)  # the relay is now asleep for 30 s
        started = time.monotonic()
        emit(producer, [accepted()])
        await eventually_async(lambda: len(applied(consumer)) == 1, within=5)
        assert time.monotonic() - started < 1.0


async def test_an_event_delivered_twice_has_one_effect(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    event = accepted()
    before = REGISTRY.get_sample_value(
        "painreview_events_duplicates_total", {"consumer": "careplan", "type": event.type}
    )
    async with running(producer, consumer) as run:
        await run.transport.publish(event)
        await run.transport.publish(event)
    assert applied(consumer) == [(event.id, event.subject)]
    after = REGISTRY.get_sample_value(
        "painreview_events_duplicates_total", {"consumer": "careplan", "type": event.type}
    )
    assert (after or 0) - (before or 0) == 1


async def test_a_failing_handler_is_retried_and_its_effect_happens_once(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    failures = {"left": 2}

    def flaky(conn: Connection, event: CloudEvent) -> None:
        apply_effect(conn, event)  # written, then rolled back with the savepoint
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("GP system unavailable")

    async with running(producer, consumer, handler=flaky, max_deliver=5) as run:
        emit(producer, [event := accepted()])
        await eventually_async(lambda: len(applied(consumer)) == 1)
        assert await run.relay.wait_idle(60)
    assert applied(consumer) == [(event.id, event.subject)]


async def test_one_failing_event_in_a_batch_does_not_undo_the_others(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    bad = accepted("ServiceRequest/bad")

    def picky(conn: Connection, event: CloudEvent) -> None:
        if event.id == bad.id:
            raise ValueError("cannot map")
        apply_effect(conn, event)

    goods = [accepted(f"ServiceRequest/{i}") for i in range(20)]
    async with running(producer, consumer, handler=picky, max_deliver=2) as run:
        emit(producer, [bad, *goods])
        assert await run.relay.wait_idle(10)
    assert sorted(applied(consumer)) == sorted((e.id, e.subject) for e in goods)


class FlakyTransport(InProcessTransport):
    """Refuses the first ``failures`` publishes, as a broker that is down would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, event: CloudEvent) -> Receipt:
        if self.failures > 0:
            self.failures -= 1
            raise PublishError("no PubAck")
        return await super().publish(event)


async def test_a_publish_that_is_not_confirmed_is_retried_and_marked_only_when_confirmed(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    async with running(producer, consumer, FlakyTransport(failures=3), backoff=FAST) as run:
        emit(producer, [event := accepted()])
        await eventually_async(lambda: len(applied(consumer)) == 1)
        assert await run.relay.wait_idle(60)
    assert applied(consumer) == [(event.id, event.subject)]
    with producer.connect() as conn:
        attempts, last_error = conn.execute(sa.select(outbox.c.attempts, outbox.c.last_error)).one()
    assert attempts == 4
    assert last_error.startswith("PublishError")


class SilentTransport(InProcessTransport):
    """Never confirms a publish: a broker that accepted the connection and then went away."""

    async def publish(self, event: CloudEvent) -> Receipt:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_rows_left_unpublished_by_a_stopped_relay_are_published_by_the_next_one(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    events = [accepted(f"ServiceRequest/{i}") for i in range(30)]
    async with running(producer, consumer, SilentTransport()):
        emit(producer, events)
        await asyncio.sleep(0.2)
    assert outbox_lag(producer).unpublished == 30
    async with running(producer, consumer) as run:
        await eventually_async(lambda: len(applied(consumer)) == 30)
        assert await run.relay.wait_idle(60)
    assert sorted(applied(consumer)) == sorted((e.id, e.subject) for e in events)
    assert outbox_lag(producer).unpublished == 0


async def test_outbox_lag_counts_unpublished_events_and_the_age_of_the_oldest(make_db) -> None:
    producer = make_db("referral")
    assert outbox_lag(producer).unpublished == 0
    assert outbox_lag(producer).oldest_age_seconds is None
    emit(producer, [accepted(), accepted("ServiceRequest/2")])
    lag = outbox_lag(producer, "referral")
    assert (lag.database, lag.unpublished, lag.failing) == ("referral", 2, 0)
    assert lag.oldest_age_seconds is not None and 0 <= lag.oldest_age_seconds < 60


async def test_published_and_delivered_counters_move(make_db) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    labels = {"outbox": "referral", "type": "referral.accepted.v1"}
    delivered = {"consumer": "careplan", "type": "referral.accepted.v1"}
    p0 = REGISTRY.get_sample_value("painreview_events_published_total", labels) or 0
    d0 = REGISTRY.get_sample_value("painreview_events_delivered_total", delivered) or 0
    async with running(producer, consumer) as run:
        emit(producer, [accepted(f"ServiceRequest/{i}") for i in range(5)])
        await eventually_async(lambda: len(applied(consumer)) == 5)
        assert await run.relay.wait_idle(60)
    assert REGISTRY.get_sample_value("painreview_events_published_total", labels) - p0 == 5
    assert REGISTRY.get_sample_value("painreview_events_delivered_total", delivered) - d0 == 5
