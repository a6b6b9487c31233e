"""The one seam between the outbox/inbox and a message broker: the :class:`Transport` protocol.

Two implementations sit behind it: :class:`~shared.bus.inprocess.InProcessTransport` (embedded mode)
and :class:`~shared.bus.nats.NatsTransport` (production, JetStream). Both deliver at least once; the
consumer's inbox makes the effect happen once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from shared.bus.errors import PublishError
from shared.contracts import CloudEvent, from_json

__all__ = [
    "Backoff",
    "BatchHandler",
    "DeadLetter",
    "DeadLetterSink",
    "Failure",
    "Health",
    "Outcome",
    "Outgoing",
    "Receipt",
    "Received",
    "Subscription",
    "Transport",
    "describe_error",
    "publish_each",
]


@dataclass(frozen=True)
class Received:
    """One delivery of an event to a consumer; ``attempt`` is 1 the first time, 2 on redelivery, ..."""

    event: CloudEvent
    attempt: int = 1


@dataclass(frozen=True)
class Failure:
    """A consumer could not apply an event; ``error`` names the failure, never patient data."""

    error: str


Outcome = Failure | None
"""``None``: applied (or already applied) and committed, so the delivery may be acknowledged."""

BatchHandler = Callable[[Sequence[Received]], Awaitable[Sequence[Outcome]]]
"""Applies a batch of deliveries and answers one outcome per delivery, in order."""


@dataclass(frozen=True)
class DeadLetter:
    """An event a consumer gave up on after its redelivery limit."""

    consumer: str
    event: CloudEvent
    error: str
    attempts: int


DeadLetterSink = Callable[[DeadLetter], Awaitable[None]]
"""Stores a dead letter durably (the in-process transport has no broker to keep it)."""


# Jitter spreads retries of many failed items; it is not a security control. A generator of its own:
# the global one's state is other code's (a retry loop drawing from it mid-test broke Hypothesis).
_JITTER = random.Random()  # noqa: S311


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: ``initial * factor**(n-1)`` seconds after failure n, capped."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2

    def delay(self, failures: int) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(0, failures - 1))
        return base * (1 + self.jitter * (2 * _JITTER.random() - 1))


@dataclass(frozen=True)
class Subscription:
    """A durable consumer: its name (one per service and purpose), the types it wants, its handler.

    ``max_deliver`` is the redelivery limit: after that many failed deliveries the event is
    dead-lettered. ``dead_letter_sink`` is used by transports without a broker-side dead-letter store.
    """

    consumer: str
    event_types: tuple[str, ...]
    handle: BatchHandler
    dead_letter_sink: DeadLetterSink | None = None
    max_deliver: int = 5
    max_batch: int = 100
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class Outgoing:
    """An event as the outbox holds it: its structured-mode JSON (written by ``to_json`` after its contract
    was checked) and the attributes a broker's headers carry, so that publishing needs no re-parse."""

    id: str
    type: str
    practice: str
    payload: bytes
    traceparent: str | None = None

    def event(self) -> CloudEvent:
        """The envelope itself (raises ``InvalidEnvelope`` if the stored JSON is not one)."""
        return from_json(self.payload)


@dataclass(frozen=True)
class Receipt:
    """The transport's confirmation of a publish. ``duplicate``: the broker already had this event id."""

    duplicate: bool = False
    sequence: int | None = None


@dataclass(frozen=True)
class Health:
    """For ``/readyz``: ``ok`` and a short operator-facing reason."""

    ok: bool
    detail: str


@runtime_checkable
class Transport(Protocol):
    """Publishes confirmed events and runs durable consumers."""

    name: str

    async def start(self) -> None:
        """Connect and start delivering to the subscriptions made so far (later ones start at once)."""

    async def close(self) -> None:
        """Stop consumers after their current batch and disconnect; unacknowledged events are redelivered."""

    async def publish(self, event: CloudEvent) -> Receipt:
        """Return only once the event is durable (JetStream PubAck) or applied by every local consumer."""
        ...

    async def publish_many(self, events: Sequence[Outgoing]) -> list[Receipt | PublishError]:
        """Publish several events at once; one result per event, in order: its receipt, or the
        :class:`PublishError` saying why it is not confirmed. Raises only when the transport is closed."""
        ...

    async def subscribe(self, subscription: Subscription) -> None:
        """Register a durable consumer."""

    async def health(self) -> Health:
        """Is the transport able to publish and deliver right now?"""
        ...


async def publish_each(transport: Transport, events: Sequence[Outgoing]) -> list[Receipt | PublishError]:
    """``publish_many`` for a transport without a batch publish: every ``publish`` at once."""

    async def one(item: Outgoing) -> Receipt:
        return await transport.publish(item.event())

    outcomes = await asyncio.gather(*(one(e) for e in events), return_exceptions=True)
    results: list[Receipt | PublishError] = []
    for outcome in outcomes:
        if isinstance(outcome, Receipt | PublishError):
            results.append(outcome)
        elif isinstance(outcome, Exception):
            results.append(PublishError(describe_error(outcome)))
        else:  # CancelledError and other BaseExceptions are not failures of one event
            raise outcome
    return results


def describe_error(exc: BaseException) -> str:
    """A short description of a failure for dead letters and the outbox: the exception type and message.

    Messages of exceptions raised by our own handlers may mention identifiers; they are kept in the
    database and the dead-letter stream (which hold the event itself), never in logs.
    """
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__
