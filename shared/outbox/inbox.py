"""The consumer side: apply each event once, in the same transaction as the inbox record.

A batch of deliveries runs in one database transaction (see :mod:`shared.outbox.apply`): the event ids
go into ``inbox``; an id already there was applied before and is skipped, otherwise the handler runs on
the same connection. A handler that raises leaves only its own event for redelivery. The transport
acknowledges only after the commit.

Dead letters of the in-process transport land in this database's ``dead_letter`` table;
``pain-review events replay`` marks one for replay and the inbox retries it here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy import Engine

from shared.bus import Backoff, DeadLetter, Health, Outcome, Received, Subscription, Transport
from shared.bus.metrics import DELIVERED, DUPLICATES
from shared.contracts import EventType, event_type, from_json, to_json
from shared.outbox.apply import EventHandler, apply_batch
from shared.outbox.tables import dead_letter, utcnow

__all__ = ["EventHandler", "Inbox"]

log = logging.getLogger(__name__)
_CONSUMER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class Inbox:
    """Runs one service's consumers against its database and a transport."""

    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        *,
        max_deliver: int = 5,
        max_batch: int = 100,
        backoff: Backoff | None = None,
        replay_poll: float = 2.0,
    ) -> None:
        self.engine, self.transport = engine, transport
        self._max_deliver, self._max_batch = max_deliver, max_batch
        self._backoff = backoff or Backoff()
        self._handlers: dict[str, dict[str, EventHandler]] = {}
        self._replay_poll = replay_poll
        self._replay_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def subscribe(
        self,
        consumer: str,
        event_types: Iterable[str | EventType],
        handler: EventHandler,
        *,
        max_deliver: int | None = None,
    ) -> None:
        """Run ``handler(conn, event)`` once per event of ``event_types`` for durable consumer ``consumer``.

        ``consumer`` names the purpose (e.g. ``careplan``, ``medreview-taper``): it keys the inbox and
        the broker's durable consumer, so it must stay stable across releases.
        """
        if not _CONSUMER_NAME.fullmatch(consumer):
            raise ValueError("a consumer name is letters, digits, '-' and '_' (it names a NATS durable)")
        types = tuple(event_type(t).type for t in event_types)
        handlers = self._handlers.setdefault(consumer, {})
        for type_ in types:
            if type_ in handlers:
                raise ValueError(f"consumer {consumer} already handles {type_}")
            handlers[type_] = handler

        async def handle(batch: Sequence[Received]) -> Sequence[Outcome]:
            return await asyncio.to_thread(self._apply, consumer, batch)

        await self.transport.subscribe(
            Subscription(
                consumer=consumer,
                event_types=types,
                handle=handle,
                dead_letter_sink=self._store_dead_letter,
                max_deliver=max_deliver or self._max_deliver,
                max_batch=self._max_batch,
                backoff=self._backoff,
            )
        )

    def _apply(self, consumer: str, batch: Sequence[Received]) -> list[Outcome]:
        result = apply_batch(self.engine, consumer, self._handlers[consumer], batch)
        for type_, n in result.applied.items():
            DELIVERED.labels(consumer, type_).inc(n)
        for type_, n in result.duplicates.items():
            DUPLICATES.labels(consumer, type_).inc(n)
        return result.outcomes

    async def _store_dead_letter(self, letter: DeadLetter) -> None:
        await asyncio.to_thread(self._write_dead_letter, letter)

    def _write_dead_letter(self, letter: DeadLetter) -> None:
        e, d = letter.event, dead_letter.c
        values = {
            "error": letter.error,
            "attempts": letter.attempts,
            "dead_lettered_at": utcnow(),
            "replay_requested_at": None,
            "replayed_at": None,
        }
        key = (d.consumer == letter.consumer) & (d.event_id == e.id)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(d.id).where(key)).first() is not None:
                conn.execute(dead_letter.update().where(key).values(values))
                return
            conn.execute(
                dead_letter.insert().values(
                    consumer=letter.consumer,
                    event_id=e.id,
                    type=e.type,
                    practice=e.practice,
                    payload=to_json(e).decode(),
                    **values,
                )
            )

    async def start(self) -> None:
        """Start retrying dead letters marked for replay (``pain-review events replay``)."""
        if self._replay_task is None:
            self._replay_task = asyncio.create_task(self._replay_loop(), name="inbox-replay")

    async def _replay_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.replay_requested)
            except Exception as exc:
                log.warning("dead-letter replay: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._replay_poll)

    def replay_requested(self) -> int:
        """Apply the dead letters marked for replay, once each; returns how many succeeded."""
        d = dead_letter.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(d.id, d.consumer, d.payload).where(
                    d.replay_requested_at.is_not(None),
                    d.replayed_at.is_(None),
                    d.consumer.in_(list(self._handlers)),
                )
            ).all()
        replayed = 0
        for row in rows:
            event = from_json(row.payload)
            [outcome] = self._apply(row.consumer, [Received(event, attempt=1)])
            with self.engine.begin() as conn:
                if outcome is None:
                    conn.execute(dead_letter.update().where(d.id == row.id).values(replayed_at=utcnow()))
                    replayed += 1
                else:
                    conn.execute(
                        dead_letter.update()
                        .where(d.id == row.id)
                        .values(replay_requested_at=None, error=outcome.error, attempts=d.attempts + 1)
                    )
            log.info("dead letter %s replay %s", row.id, "succeeded" if outcome is None else "failed")
        return replayed

    async def health(self) -> Health:
        if self._replay_task is not None and self._replay_task.done() and not self._stopping.is_set():
            return Health(False, "inbox replay task stopped")
        return Health(True, f"inbox: {sum(len(h) for h in self._handlers.values())} subscriptions")

    async def close(self) -> None:
        self._stopping.set()
        if self._replay_task is not None:
            await asyncio.gather(self._replay_task, return_exceptions=True)
