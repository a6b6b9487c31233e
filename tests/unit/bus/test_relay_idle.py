"""An idle relay (its outbox empty) reads the outbox every ``idle_poll_interval``, not every
``poll_interval``: ``pain-review up`` runs four relays, and at 4 reads a second each they were most of
its idle CPU. Rows waiting out a backoff keep the short poll, and a commit still wakes the relay at once."""

from __future__ import annotations

import asyncio

import pytest
from bus_support import accepted, applied, emit, running

from shared.outbox import relay_store
from tests.support import eventually_async

pytestmark = pytest.mark.anyio


async def test_an_idle_relay_does_not_read_the_outbox_at_its_short_poll(make_db, monkeypatch) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    readers: list[object] = []  # the reader of each claim: only this test's relay counts (the event
    claim = relay_store.claim  # loop may be shared with other tests' relays still winding down)

    def counted(reader, *args, **kwargs):
        readers.append(reader)
        return claim(reader, *args, **kwargs)

    monkeypatch.setattr(relay_store, "claim", counted)
    async with running(producer, consumer, poll_interval=0.01, idle_poll_interval=60.0) as run:

        def claims() -> int:
            return sum(1 for r in readers if r is run.relay._reader)

        emit(producer, [accepted()])  # woken by the commit, not by a poll
        await eventually_async(lambda: len(applied(consumer)) == 1)
        assert await run.relay.wait_idle(10)
        await eventually_async(lambda: run.relay.poll_wait() == 60.0)
        before = claims()
        await asyncio.sleep(0.3)  # thirty short polls' worth
        assert claims() - before <= 1
        emit(producer, [accepted("ServiceRequest/2")])  # a commit still wakes it at once
        await eventually_async(lambda: len(applied(consumer)) == 2)


@pytest.mark.parametrize(("pending", "expected"), [(True, 0.01), (False, 60.0)])
async def test_unpublished_rows_keep_the_short_poll(make_db, pending: bool, expected: float) -> None:
    producer, consumer = make_db("referral"), make_db("careplan")
    async with running(producer, consumer, poll_interval=0.01, idle_poll_interval=60.0) as run:
        assert await run.relay.wait_idle(10)
        run.relay._reader.pending = pending  # what the last claim saw: unpublished rows, due or not
        assert run.relay.poll_wait() == expected


async def test_confirmations_that_settle_together_are_marked_in_one_transaction(make_db, monkeypatch) -> None:
    """Five events committed one by one within the relay's mark delay: one or two marking transactions
    (a second commit per event was SQLite's writer lock and an fsync taken twice per producer commit)."""
    producer, consumer = make_db("referral"), make_db("careplan")
    marks: list[int] = []
    mark = relay_store.mark

    def counted(engine, results, backoff):
        marks.append(len(results))
        return mark(engine, results, backoff)

    monkeypatch.setattr(relay_store, "mark", counted)
    async with running(producer, consumer, poll_interval=0.01, mark_delay=1.5) as run:
        for i in range(5):  # each published before the next is committed
            emit(producer, [accepted(f"ServiceRequest/{i}")])
            await eventually_async(lambda n=i + 1: len(applied(consumer)) == n)
        assert await run.relay.wait_idle(10)
    assert sum(marks) == 5
    assert len(marks) <= 2
