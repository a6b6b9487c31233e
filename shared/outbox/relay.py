"""The relay: publishes committed outbox rows through a transport, in order per subject.

Rows are published in ``sequence`` order, with at most one row per subject (the FHIR resource an event
is about) in flight: a later event about the same resource waits until the earlier one is confirmed.
A row is marked published only after the transport confirmed it; a failed publish is retried with
exponential backoff. After a crash the unpublished rows are simply published again: JetStream drops
repeats by ``Nats-Msg-Id`` and consumers' inboxes drop the rest.

Woken by :meth:`OutboxRelay.notify` (also called automatically when a connection that recorded events
returns to the pool). While rows are unpublished (in flight, or waiting out a retry's backoff) it also
polls every ``poll_interval``; with the outbox empty only every ``idle_poll_interval``, a fallback for
writers in other processes (a CLI beside ``pain-review up``, another replica's leftovers): an idle
relay costs a read every few seconds, not four a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Any

import orjson
from sqlalchemy import Engine, event

from shared.bus import Backoff, Health, Outgoing, Receipt, Transport, describe_error
from shared.bus.metrics import OUTBOX_LAG, OUTBOX_OLDEST_AGE, PUBLISH_FAILURES, PUBLISHED
from shared.contracts import InvalidEnvelope
from shared.observability.tracing import SpanKind, event_span, tracing_enabled
from shared.outbox import relay_store as store
from shared.outbox.record import OUTBOX_DIRTY
from shared.outbox.relay_store import OutboxRow, PublishResult

__all__ = ["OutboxRelay"]

log = logging.getLogger(__name__)


def _outgoing(row: OutboxRow) -> Outgoing:
    """What the transport needs of a row. The payload was written by ``to_json`` after the event's
    contract was checked (``record_events``), so only its trace context is read back, not re-validated."""
    payload = row.payload.encode()
    envelope = orjson.loads(payload)
    if not isinstance(envelope, dict):
        raise InvalidEnvelope("the outbox row is not a CloudEvent")
    traceparent = envelope.get("traceparent")
    return Outgoing(row.event_id, row.type, row.practice, payload, str(traceparent) if traceparent else None)


class OutboxRelay:
    """Publishes one database's outbox. Start it after the transport's subscriptions are in place.

    Two loops: the claimer reads due rows and starts publishes (up to ``max_in_flight``); the marker
    records confirmations in batches, waiting ``mark_delay`` after the first for more to settle. A
    confirmed row counts as published for ordering at once, so a slow database commit (or that wait)
    never holds back the next event about the same resource.
    """

    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        *,
        name: str = "outbox",
        max_in_flight: int = 512,
        window: int = 2000,
        poll_interval: float = 0.25,
        idle_poll_interval: float = 5.0,
        mark_delay: float = 0.05,
        backoff: Backoff | None = None,
        lag_interval: float = 5.0,
    ) -> None:
        self.engine, self.transport, self.name = engine, transport, name
        self._max_in_flight, self._window = max_in_flight, window
        self._poll, self._lag_interval = poll_interval, lag_interval
        self._idle_poll = max(poll_interval, idle_poll_interval)
        self._mark_delay = mark_delay
        self._backoff = backoff or Backoff(initial=0.2, maximum=30.0)
        self._wake = asyncio.Event()
        self._settled_event = asyncio.Event()
        self._idle = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._claimer: asyncio.Task[None] | None = None
        self._marker: asyncio.Task[None] | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._settled: dict[int, PublishResult] = {}  # publish finished, outbox row not yet updated
        self._stopping = False
        self._last_lag = 0.0
        self._reader = store.OutboxReader(engine)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        event.listen(self.engine, "checkin", self._on_checkin)
        self._claimer = asyncio.create_task(self._claim_loop(), name=f"outbox-claimer:{self.name}")
        self._marker = asyncio.create_task(self._mark_loop(), name=f"outbox-marker:{self.name}")

    def notify(self) -> None:
        """Wake the relay now (thread-safe): call after committing a transaction that recorded events."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._wake.set)

    def _on_checkin(self, _dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(OUTBOX_DIRTY, False):
            self.notify()

    def poll_wait(self) -> float:
        """How long the claimer sleeps unless woken: the short poll while any row is unpublished (a
        failed one waits out its backoff unannounced), the idle poll when the outbox is empty."""
        quiet = not self._busy() and not self._reader.pending
        return self._idle_poll if quiet else self._poll

    def _busy(self) -> bool:
        return bool(self._in_flight or self._settled)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is left to publish (for shutdown, tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._busy() and await asyncio.to_thread(store.pending_count, self.engine) == 0:
                return True
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), min(0.05, max(0.0, deadline - time.monotonic())))
        return False

    async def _claim_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                capacity = self._max_in_flight - len(self._in_flight)
                # Under load, wait for a quarter of the slots: one claim per completion would re-read
                # the outbox for every event.
                if capacity >= max(1, self._max_in_flight // 4) or not self._in_flight:
                    confirmed = frozenset(s for s, r in self._settled.items() if r.error is None)
                    held = frozenset(self._in_flight).union(s for s, r in self._settled.items() if r.error)
                    rows = await asyncio.to_thread(
                        store.claim,
                        self._reader,
                        window=self._window,
                        limit=capacity,
                        in_flight=held,
                        confirmed=confirmed,
                    )
                    busy = self._in_flight.keys() | self._settled.keys()
                    fresh = [r for r in rows if r.sequence not in busy]
                    if fresh:
                        task = asyncio.create_task(self._publish(fresh))
                        self._in_flight.update(dict.fromkeys((r.sequence for r in fresh), task))
                if not self._busy():
                    self._idle.set()
                if time.monotonic() - self._last_lag >= self._lag_interval:
                    self._last_lag = time.monotonic()
                    count, age = await asyncio.to_thread(store.lag, self.engine)
                    OUTBOX_LAG.labels(self.name).set(count)
                    OUTBOX_OLDEST_AGE.labels(self.name).set(age)
            except Exception as exc:  # database unavailable: try again shortly
                self._reader.pending = True
                log.warning("outbox relay %s: %s", self.name, type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_wait())

    async def _publish(self, rows: list[OutboxRow]) -> None:
        """Publish one claimed batch at once; each row settles with its own outcome."""
        errors: dict[int, str | None] = {}
        items: list[tuple[OutboxRow, Outgoing]] = []
        for row in rows:
            try:
                items.append((row, _outgoing(row)))
            except Exception as exc:  # an unreadable row: it stays unpublished, with the reason
                errors[row.sequence] = describe_error(exc)
        try:
            if tracing_enabled():
                outcomes = await asyncio.gather(*(self._traced(o) for _, o in items), return_exceptions=True)
            else:  # the no-op span still costs a few percent of the relay's CPU
                outcomes = list(await self.transport.publish_many([o for _, o in items]))
        except asyncio.CancelledError:
            self._release(rows)
            raise
        except Exception as exc:  # the transport is closed or broke: none of them is confirmed
            outcomes = [exc] * len(items)
        for (row, _), outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, asyncio.CancelledError):  # a traced publish was cancelled: stopping
                self._release(rows)
                raise outcome
            errors[row.sequence] = describe_error(outcome) if isinstance(outcome, BaseException) else None
        for row in rows:
            self._in_flight.pop(row.sequence, None)
            self._settled[row.sequence] = PublishResult(row, errors[row.sequence])
        self._settled_event.set()
        self._wake.set()  # slots are free, and the next events of these subjects may go

    def _release(self, rows: list[OutboxRow]) -> None:
        """Abandoned publishes: the rows stay unpublished and may be claimed again."""
        for row in rows:
            self._in_flight.pop(row.sequence, None)

    async def _traced(self, item: Outgoing) -> Receipt:
        event = item.event()
        attributes = {"messaging.message.id": event.id, "messaging.system": self.transport.name}
        span = f"publish {event.type}"
        with event_span(span, traceparent=event.traceparent, kind=SpanKind.PRODUCER, attributes=attributes):
            return await self.transport.publish(event)

    async def _mark_loop(self) -> None:
        while True:
            await self._settled_event.wait()
            if self._mark_delay and not self._stopping:
                # Gather what settles meanwhile into the same transaction: at a few events a second each
                # was marked alone, a second commit (an fsync, SQLite's one writer) per producer commit.
                await asyncio.sleep(self._mark_delay)
            self._settled_event.clear()
            if not self._settled:
                if self._stopping:
                    return
                continue
            batch = list(self._settled.values())
            try:
                await asyncio.to_thread(store.mark, self.engine, batch, self._backoff)
            except Exception as exc:  # keep them settled: marked on the next round
                log.warning(
                    "outbox relay %s: cannot mark %d rows: %s", self.name, len(batch), type(exc).__name__
                )
                if self._stopping:
                    return
                await asyncio.sleep(self._poll)
                self._settled_event.set()
                continue
            published: Counter[str] = Counter()
            for result in batch:
                self._settled.pop(result.row.sequence, None)
                if result.error is None:
                    published[result.row.type] += 1
                else:
                    PUBLISH_FAILURES.labels(self.name, result.row.type).inc()
                    log.warning(
                        "outbox %s: publish of row %d failed (%s), attempt %d",
                        self.name,
                        result.row.sequence,
                        result.error.split(":")[0],
                        result.row.attempts + 1,
                    )
            for type_, n in published.items():
                PUBLISHED.labels(self.name, type_).inc(n)
            if not self._busy():
                self._idle.set()
            if self._stopping and not self._settled:
                return

    async def health(self) -> Health:
        if self._claimer is None or self._marker is None:
            return Health(False, f"outbox relay {self.name} not started")
        if self._claimer.done() or self._marker.done():
            return Health(False, f"outbox relay {self.name} stopped")
        return Health(True, f"outbox relay {self.name}: {len(self._in_flight)} in flight")

    async def close(self) -> None:
        """Stop: publishes still in flight are abandoned (their rows stay unpublished for next time)."""
        if self._claimer is None or self._stopping:
            return
        self._stopping = True
        self._wake.set()
        await asyncio.gather(self._claimer, return_exceptions=True)
        in_flight = list(set(self._in_flight.values()))
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        if self._marker is not None:
            self._settled_event.set()  # record what was confirmed before the stop
            await asyncio.gather(self._marker, return_exceptions=True)
        await asyncio.to_thread(self._reader.close)
        event.remove(self.engine, "checkin", self._on_checkin)
