"""In-process delivery for embedded mode: every service in one process, no broker.

``publish`` returns only once every local consumer of the event's type has applied it (committed its
inbox row) or dead-lettered it, so the outbox marks an event published only when nothing more can be
lost: if the process dies first, the row is still unpublished and the relay delivers it again after the
restart; the consumers' inboxes drop what they already applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from shared.bus.errors import PublishError, TransportClosed
from shared.bus.metrics import DEAD_LETTERED, REDELIVERED
from shared.bus.transport import (
    DeadLetter,
    DeadLetterSink,
    Failure,
    Health,
    Outcome,
    Outgoing,
    Receipt,
    Received,
    Subscription,
    describe_error,
    publish_each,
)
from shared.contracts import CloudEvent

__all__ = ["InProcessTransport"]

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    event: CloudEvent
    attempt: int
    done: asyncio.Future[None]


def _fail(pendings: Sequence[_Pending]) -> None:
    for pending in pendings:
        if not pending.done.done():
            # The publisher (the relay) sees a failure: the outbox row stays unpublished.
            pending.done.set_exception(TransportClosed("transport closed before delivery"))


class _LocalConsumer:
    """One subscription's queue and worker: batches deliveries, retries failures, dead-letters."""

    def __init__(self, subscription: Subscription, sink: DeadLetterSink) -> None:
        self.subscription = subscription
        self._sink = sink
        self._types = frozenset(subscription.event_types)
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._timers: dict[asyncio.TimerHandle, _Pending] = {}
        self._stopping = False

    def wants(self, event: CloudEvent) -> bool:
        return self.takes(event.type)

    def takes(self, event_type: str) -> bool:
        return event_type in self._types

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name=f"inprocess:{self.subscription.consumer}")

    async def deliver(self, event: CloudEvent) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(_Pending(event, 1, done))
        await done

    def _enqueue(self, pending: _Pending) -> None:
        if pending.done.done():  # the publisher gave up (cancelled); the relay will deliver again
            return
        self._queue.put_nowait(pending)

    def _later(self, delay: float, pending: _Pending) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.pop(handle, None)
            self._enqueue(pending)

        handle = loop.call_later(delay, fire)
        self._timers[handle] = pending

    async def _run(self) -> None:
        sub = self.subscription
        while not self._stopping:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < sub.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            live = [p for p in batch if p is not None and not p.done.done()]
            if self._stopping:
                _fail(live)
            elif live:
                await self._apply(live)

    async def _apply(self, batch: Sequence[_Pending]) -> None:
        sub = self.subscription
        try:
            outcomes: Sequence[Outcome] = await sub.handle([Received(p.event, p.attempt) for p in batch])
        except Exception as exc:  # a failing handler must not stop the worker
            outcomes = [Failure(describe_error(exc))] * len(batch)
        for pending, outcome in zip(batch, outcomes, strict=True):
            if outcome is None:
                if not pending.done.done():
                    pending.done.set_result(None)
            elif pending.attempt >= sub.max_deliver:
                await self._dead_letter(pending, outcome.error)
            else:
                log.warning(
                    "consumer %s failed event %s (%s), attempt %d",
                    sub.consumer,
                    pending.event.id,
                    pending.event.type,
                    pending.attempt,
                )
                REDELIVERED.labels(sub.consumer, pending.event.type).inc()
                retry = _Pending(pending.event, pending.attempt + 1, pending.done)
                self._later(sub.backoff.delay(pending.attempt), retry)

    async def _dead_letter(self, pending: _Pending, error: str) -> None:
        sub = self.subscription
        letter = DeadLetter(sub.consumer, pending.event, error, pending.attempt)
        try:
            await self._sink(letter)
        except Exception as exc:  # keep it pending: not stored anywhere yet
            log.error(
                "cannot store dead letter %s for %s: %s", pending.event.id, sub.consumer, type(exc).__name__
            )
            self._later(sub.backoff.delay(pending.attempt), pending)
            return
        DEAD_LETTERED.labels(sub.consumer, pending.event.type).inc()
        log.error(
            "consumer %s dead-lettered event %s (%s)", sub.consumer, pending.event.id, pending.event.type
        )
        if not pending.done.done():
            pending.done.set_result(None)

    async def close(self, timeout: float) -> None:
        self._stopping = True
        unfinished = list(self._timers.values())
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self._worker is not None:
            self._queue.put_nowait(None)  # wake an idle worker
            try:
                # Let the batch in hand commit: its thread cannot be interrupted anyway.
                await asyncio.wait_for(asyncio.shield(self._worker), timeout)
            except TimeoutError:
                self._worker.cancel()
                await asyncio.gather(self._worker, return_exceptions=True)
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                unfinished.append(item)
        _fail(unfinished)


class InProcessTransport:
    """Delivers events to the subscribers in this process (embedded mode's bus).

    Subscribe every consumer, then :meth:`start`; publishes wait for :meth:`start` so that no event is
    handed out before its consumers exist. Subscriptions need a ``dead_letter_sink`` (the inbox gives one
    that writes the consumer's ``dead_letter`` table).
    """

    name = "inprocess"

    def __init__(self, *, close_timeout: float = 10.0) -> None:
        self._consumers: list[_LocalConsumer] = []
        self._started = asyncio.Event()
        self._closed = False
        self._close_timeout = close_timeout

    async def subscribe(self, subscription: Subscription) -> None:
        if subscription.dead_letter_sink is None:
            raise ValueError("the in-process transport needs a dead_letter_sink on every subscription")
        if self._closed:
            raise TransportClosed("transport closed")
        consumer = _LocalConsumer(subscription, subscription.dead_letter_sink)
        self._consumers.append(consumer)
        if self._started.is_set():
            consumer.start()

    async def start(self) -> None:
        if self._closed:
            raise TransportClosed("transport closed")
        for consumer in self._consumers:
            consumer.start()
        self._started.set()

    async def publish(self, event: CloudEvent) -> Receipt:
        if self._closed:
            raise TransportClosed("transport closed")
        await self._started.wait()
        if self._closed:
            raise TransportClosed("transport closed")
        targets = [c for c in self._consumers if c.wants(event)]
        if targets:
            await asyncio.gather(*(c.deliver(event) for c in targets))
        return Receipt()

    async def publish_many(self, events: Sequence[Outgoing]) -> list[Receipt | PublishError]:
        if self._closed:
            raise TransportClosed("transport closed")
        await self._started.wait()  # as `publish`: the consumers subscribed by the start count
        if self._closed:
            raise TransportClosed("transport closed")
        # An event no consumer here takes is confirmed as `publish` would confirm it, without reading its
        # JSON back into a CloudEvent first (its contract was checked when the outbox row was written):
        # a service run alone in-process (the benchmark's `serve`) parsed every event it published.
        taken = [any(c.takes(e.type) for c in self._consumers) for e in events]
        published = iter(await publish_each(self, [e for e, t in zip(events, taken, strict=True) if t]))
        return [next(published) if t else Receipt() for t in taken]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._started.set()  # release publishers waiting for a start that will not come
        await asyncio.gather(*(c.close(self._close_timeout) for c in self._consumers))

    async def health(self) -> Health:
        if self._closed:
            return Health(False, "in-process transport closed")
        if not self._started.is_set():
            return Health(False, "in-process transport not started")
        return Health(True, f"in-process, {len(self._consumers)} consumers")
