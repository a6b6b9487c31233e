"""The relay: publishes committed outbox rows through a transport, in order per subject.

Rows are published in ``sequence`` order, with at most one row per subject (the FHIR resource an event
is about) in flight: a later event about the same resource waits until the earlier one is confirmed.
A row is marked published only after the transport confirmed it; a failed publish is retried with
exponential backoff. After a crash the unpublished rows are simply published again: JetStream drops
repeats by ``Nats-Msg-Id`` and consumers' inboxes drop the rest.

Woken by :meth:`OutboxRelay.notify` (also called automatically when a connection that recorded events
returns to the pool), with a short poll as a fallback for writers in other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, event

from shared.bus import Backoff, Health, Transport, describe_error
from shared.bus.metrics import OUTBOX_LAG, OUTBOX_OLDEST_AGE, PUBLISH_FAILURES, PUBLISHED
from shared.contracts import from_json
from shared.observability.tracing import SpanKind, event_span
from shared.outbox.record import OUTBOX_DIRTY
from shared.outbox.tables import as_utc, outbox, utcnow

__all__ = ["OutboxRelay"]

log = logging.getLogger(__name__)
_CHUNK = 500  # bound the IN (...) lists: SQLite allows at most 32766 parameters


@dataclass(frozen=True)
class _Row:
    sequence: int
    type: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class _Result:
    row: _Row
    error: str | None


class OutboxRelay:
    """Publishes one database's outbox. Start it after the transport's subscriptions are in place."""

    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        *,
        name: str = "outbox",
        max_in_flight: int = 64,
        window: int = 1000,
        poll_interval: float = 0.25,
        backoff: Backoff | None = None,
        lag_interval: float = 5.0,
    ) -> None:
        self.engine, self.transport, self.name = engine, transport, name
        self._max_in_flight, self._window = max_in_flight, window
        self._poll, self._lag_interval = poll_interval, lag_interval
        self._backoff = backoff or Backoff(initial=0.2, maximum=30.0)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._results: list[_Result] = []
        self._stopping = False
        self._idle = asyncio.Event()
        self._last_lag = 0.0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        event.listen(self.engine, "checkin", self._on_checkin)
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay:{self.name}")

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

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is left to publish (for shutdown, tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._in_flight and await asyncio.to_thread(self._pending_count) == 0:
                return True
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), min(0.05, max(0.0, deadline - time.monotonic())))
        return False

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._flush()
                capacity = self._max_in_flight - len(self._in_flight)
                if capacity > 0:
                    rows = await asyncio.to_thread(self._claim, frozenset(self._in_flight), capacity)
                    for row in rows:
                        task = asyncio.create_task(self._publish(row))
                        self._in_flight[row.sequence] = task
                if not self._in_flight:
                    self._idle.set()
                if time.monotonic() - self._last_lag >= self._lag_interval:
                    self._last_lag = time.monotonic()
                    await asyncio.to_thread(self._update_lag)
            except Exception as exc:  # database unavailable: keep results, try again shortly
                log.warning("outbox relay %s: %s", self.name, type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)

    async def _publish(self, row: _Row) -> None:
        error: str | None = None
        try:
            event = from_json(row.payload)
            attributes = {"messaging.message.id": event.id, "messaging.system": self.transport.name}
            with event_span(
                f"publish {event.type}",
                traceparent=event.traceparent,
                kind=SpanKind.PRODUCER,
                attributes=attributes,
            ):
                await self.transport.publish(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = describe_error(exc)
        self._results.append(_Result(row, error))
        self._wake.set()

    async def _flush(self) -> None:
        if not self._results:
            return
        results, self._results = self._results, []
        try:
            await asyncio.to_thread(self._mark, results)
        except BaseException:
            self._results = results + self._results
            raise
        for result in results:
            self._in_flight.pop(result.row.sequence, None)
            if result.error is None:
                PUBLISHED.labels(self.name, result.row.type).inc()
            else:
                PUBLISH_FAILURES.labels(self.name, result.row.type).inc()
                log.warning(
                    "outbox %s: publish of row %d failed (%s), attempt %d",
                    self.name,
                    result.row.sequence,
                    result.error.split(":")[0],
                    result.row.attempts + 1,
                )

    def _claim(self, in_flight: frozenset[int], limit: int) -> list[_Row]:
        now = utcnow()
        c = outbox.c
        with self.engine.begin() as conn:
            heads = conn.execute(
                sa.select(c.sequence, c.subject, c.next_attempt_at)
                .where(c.published_at.is_(None))
                .order_by(c.sequence)
                .limit(self._window)
            ).all()
            seen: set[str] = set()
            chosen: list[int] = []
            for sequence, subject, next_attempt_at in heads:
                if subject in seen:
                    continue  # an earlier event about the same resource is not confirmed yet
                seen.add(subject)
                due = as_utc(next_attempt_at)
                if sequence not in in_flight and (due is None or due <= now):
                    chosen.append(sequence)
                    if len(chosen) >= limit:
                        break
            if not chosen:
                return []
            rows = conn.execute(
                sa.select(c.sequence, c.type, c.payload, c.attempts)
                .where(c.sequence.in_(chosen))
                .order_by(c.sequence)
            ).all()
        return [_Row(r.sequence, r.type, r.payload, r.attempts) for r in rows]

    def _mark(self, results: list[_Result]) -> None:
        now = utcnow()
        c = outbox.c
        done = [r.row.sequence for r in results if r.error is None]
        failed = [
            {
                "s": r.row.sequence,
                "e": r.error,
                "t": now + timedelta(seconds=self._backoff.delay(r.row.attempts + 1)),
            }
            for r in results
            if r.error is not None
        ]
        with self.engine.begin() as conn:
            for start in range(0, len(done), _CHUNK):
                conn.execute(
                    outbox.update()
                    .where(c.sequence.in_(done[start : start + _CHUNK]))
                    .values(published_at=now, attempts=c.attempts + 1, next_attempt_at=None)
                )
            if failed:
                conn.execute(
                    outbox.update()
                    .where(c.sequence == sa.bindparam("s"))
                    .values(
                        attempts=c.attempts + 1,
                        last_error=sa.bindparam("e"),
                        next_attempt_at=sa.bindparam("t"),
                    ),
                    failed,
                )

    def _pending_count(self) -> int:
        with self.engine.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            ).scalar_one()
        return int(count)

    def _update_lag(self) -> None:
        with self.engine.connect() as conn:
            count, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(
                    outbox.c.published_at.is_(None)
                )
            ).one()
        OUTBOX_LAG.labels(self.name).set(count)
        oldest_utc = as_utc(oldest)
        age = (utcnow() - oldest_utc).total_seconds() if oldest_utc is not None else 0.0
        OUTBOX_OLDEST_AGE.labels(self.name).set(age)

    async def health(self) -> Health:
        if self._task is None:
            return Health(False, f"outbox relay {self.name} not started")
        if self._task.done():
            return Health(False, f"outbox relay {self.name} stopped")
        return Health(True, f"outbox relay {self.name}: {len(self._in_flight)} in flight")

    async def close(self) -> None:
        """Stop: publishes still in flight are abandoned (their rows stay unpublished for next time)."""
        if self._task is None or self._stopping:
            return
        self._stopping = True
        self._wake.set()
        await asyncio.gather(self._task, return_exceptions=True)
        for task in self._in_flight.values():
            task.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        try:
            await self._flush()  # record what was confirmed before the stop
        except Exception as exc:
            log.warning("outbox relay %s: final flush failed: %s", self.name, type(exc).__name__)
        self._in_flight.clear()
        event.remove(self.engine, "checkin", self._on_checkin)
