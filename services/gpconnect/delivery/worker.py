"""The delivery worker: sends what the consumers recorded, with retries, backoff and jitter, a circuit
breaker per practice, and a dead letter after the retry budget. Runs as an asyncio task in the
service's lifespan. Several replicas may run: each claims due deliveries with a short lease.

With nothing due the worker sleeps until the earliest delivery is (at least ``poll_s``, at most
``idle_poll_s``), and a delivery added in this process wakes it as its transaction's connection goes
back to the pool; the idle poll is the fallback for other processes (a replay asked from the CLI,
another replica). Polling every ``poll_s`` with a write transaction was most of an idle
``pain-review up``'s CPU."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import anyio
from sqlalchemy import Connection, Engine, event

from services.gpconnect import repository
from services.gpconnect.delivery.adapters import NotReady, PermanentDeliveryError, TransientDeliveryError
from services.gpconnect.delivery.dispatch import (
    Awaiting,
    Dispatcher,
    Done,
    Outcome,
    PartlyWritten,
    StillPending,
)
from services.gpconnect.domain.delivery_policy import CircuitBreaker, RetryPolicy
from shared.contracts import CloudEvent
from shared.fhir import in_transaction
from shared.outbox import record_events
from shared.web.errors import where

__all__ = ["DeliveryWorker"]

log = logging.getLogger("pain-review.gpconnect.delivery")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveryWorker:
    def __init__(
        self,
        engine: Engine,
        dispatcher: Dispatcher,
        *,
        policy: RetryPolicy,
        breaker: Callable[[], CircuitBreaker] = CircuitBreaker,
        concurrency: int = 16,
        poll_s: float = 0.2,
        idle_poll_s: float = 2.0,
        decision_poll_s: float = 2.0,
        lease_s: float = 60.0,
        rng: random.Random | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine, self.dispatcher, self.policy = engine, dispatcher, policy
        self._new_breaker, self.breakers = breaker, dict[str, CircuitBreaker]()
        self.concurrency, self.poll_s, self.decision_poll_s, self.lease_s = (
            concurrency,
            poll_s,
            decision_poll_s,
            lease_s,
        )
        self.idle_poll_s = max(poll_s, idle_poll_s)
        self.rng, self.now = rng or random.Random(), now  # noqa: S311 (jitter, not secrets)
        self._next_due: datetime | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def breaker(self, practice: str) -> CircuitBreaker:
        if practice not in self.breakers:
            self.breakers[practice] = self._new_breaker()
        return self.breakers[practice]

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._loop = asyncio.get_running_loop()
            event.listen(self.engine, "checkin", self._on_checkin)
            self._task = asyncio.create_task(self._run(), name="gpconnect-delivery")

    async def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            event.remove(self.engine, "checkin", self._on_checkin)

    def notify(self) -> None:
        """Look for due deliveries now (thread-safe)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self._wake.set)

    def _on_checkin(self, _dbapi_connection: object, record: object) -> None:
        info = getattr(record, "info", None)
        if info is not None and info.pop(repository.DELIVERY_ADDED, False):
            self.notify()

    def idle_wait(self) -> float:
        """How long to sleep after a pass that found nothing due: until the earliest delivery is due."""
        if self._next_due is None:
            return self.idle_poll_s
        until = (self._next_due - self.now()).total_seconds()
        return min(self.idle_poll_s, max(self.poll_s, until))

    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # a delivery added during the pass wakes the sleep below at once
            try:
                busy = await self.run_once()
            except Exception as exc:  # a database hiccup must not end the worker
                log.warning("delivery pass failed: %s", type(exc).__name__)
                busy, self._next_due = 0, None
                wait = self.poll_s
            else:
                wait = self.idle_wait()
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    # ---- one pass -------------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Claim what is due and work on it concurrently; returns how many deliveries were worked on."""

        def claim(conn: Connection) -> tuple[list[repository.Delivery], datetime | None]:
            repository.replays_requested(conn)
            items = repository.claim_due(
                conn, self.now(), limit=self.concurrency * 4, lease_seconds=self.lease_s
            )
            return items, None if items else repository.next_due(conn)

        items, self._next_due = await in_transaction(self.engine, claim)
        if not items:
            return 0
        limit = anyio.Semaphore(self.concurrency)

        async def one(item: repository.Delivery) -> None:
            async with limit:
                await self.process(item)

        async with anyio.create_task_group() as group:
            for item in items:
                group.start_soon(one, item)
        return len(items)

    async def process(self, item: repository.Delivery) -> None:
        now = self.now()
        clock = now.timestamp()
        breaker = self.breaker(item.practice)
        if not breaker.allow(clock):
            later = now + timedelta(seconds=max(breaker.retry_at(clock) - clock, 0.05))
            await self._write(
                lambda conn: repository.reschedule(
                    conn, item, attempts=item.attempts, next_at=later, error=item.last_error
                )
            )
            return
        try:
            outcome = await self.dispatcher.run(item)
        except NotReady as exc:
            breaker.release()
            await self._failed(item, str(exc))
        except TransientDeliveryError as exc:
            breaker.record_failure(clock)
            await self._failed(item, str(exc))
        except PermanentDeliveryError as exc:
            breaker.record_success()  # the GP system answered: it is up, it refused this message
            events = exc.events if isinstance(exc, PartlyWritten) else ()
            await self._dead(item, item.attempts + 1, str(exc), events)
        except Exception as exc:  # a bug of ours: retried within the budget, then visible as a dead letter
            breaker.release()
            # Where, not what: the message may carry what the GP system sent (patient data).
            log.error(
                "delivery %s failed unexpectedly",
                item.id,
                extra={"error_type": type(exc).__name__, "where": where(exc)},
            )
            await self._failed(item, f"unexpected {type(exc).__name__}")
        else:
            breaker.record_success()
            await self._succeeded(item, outcome)

    async def _succeeded(self, item: repository.Delivery, outcome: Outcome) -> None:
        if isinstance(outcome, Done):

            def done(conn: Connection) -> None:
                record_events(conn, outcome.events)
                repository.mark_done(conn, item, outcome.remote_ref)

            await self._write(done)
        elif isinstance(outcome, Awaiting):
            later = self.now() + timedelta(seconds=self.decision_poll_s)
            await self._write(lambda conn: repository.mark_awaiting(conn, item, outcome.remote_ref, later))
        elif isinstance(outcome, StillPending):
            later = self.now() + timedelta(seconds=self.decision_poll_s)
            await self._write(
                lambda conn: repository.reschedule(conn, item, attempts=0, next_at=later, error=None)
            )

    async def _failed(self, item: repository.Delivery, error: str) -> None:
        attempts = item.attempts + 1
        if item.state == "awaiting-decision":
            # Asking for a decision is never given up: the task was delivered; only the answer is late.
            delay = self.decision_poll_s + self.policy.delay(attempts, self.rng)
        elif self.policy.exhausted(attempts):
            await self._dead(item, attempts, error)
            return
        else:
            delay = self.policy.delay(attempts, self.rng)
        later = self.now() + timedelta(seconds=delay)
        await self._write(
            lambda conn: repository.reschedule(conn, item, attempts=attempts, next_at=later, error=error)
        )

    async def _dead(
        self, item: repository.Delivery, attempts: int, error: str, events: tuple[CloudEvent, ...] = ()
    ) -> None:
        log.warning(
            "delivery %s (%s) dead-lettered after %s attempts: %s", item.id, item.kind, attempts, error
        )

        def dead(conn: Connection) -> None:
            record_events(conn, events)  # what the far end now holds, when part of the change landed
            repository.mark_dead(conn, item, attempts=attempts, error=error)

        await self._write(dead)

    async def _write(self, work: Callable[[Connection], None]) -> None:
        await in_transaction(self.engine, work)
