"""A service's part in the event backbone: its consumers (inbox) and its outbox relay.

The composition root orders the start so that nothing is published before every consumer of the
process has subscribed: ``subscribe()`` on every service, then ``transport.start()``, then
``start_relay()`` on every service; ``close()`` in reverse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from shared.bus import Transport
from shared.contracts import EventType
from shared.outbox import EventHandler, Inbox, OutboxRelay

__all__ = ["Consumer", "ServiceEvents"]


@dataclass(frozen=True)
class Consumer:
    """A durable consumer: a stable ``name`` (it keys the inbox and the broker), its types, its handler."""

    name: str
    event_types: tuple[str | EventType, ...]
    handler: EventHandler


class ServiceEvents:
    def __init__(
        self, service: str, engine: Engine, transport: Transport, consumers: Sequence[Consumer]
    ) -> None:
        self.service = service
        self.transport = transport
        self.consumers = tuple(consumers)
        self.inbox = Inbox(engine, transport)
        self.relay = OutboxRelay(engine, transport, name=service)
        self._subscribed = False

    async def subscribe(self) -> None:
        for consumer in self.consumers:
            await self.inbox.subscribe(consumer.name, consumer.event_types, consumer.handler)
        await self.inbox.start()
        self._subscribed = True

    async def start_relay(self) -> None:
        await self.relay.start()

    async def close(self) -> None:
        await self.relay.close()
        await self.inbox.close()

    @asynccontextmanager
    async def running_alone(self) -> AsyncIterator[None]:
        """The whole sequence for a service that owns its transport (``pain-review serve``)."""
        await self.subscribe()
        await self.transport.start()
        await self.start_relay()
        try:
            yield
        finally:
            await self.close()
            await self.transport.close()

    async def ready(self) -> bool:
        """For ``/readyz``: the transport is connected and the relay runs."""
        transport, relay = await self.transport.health(), await self.relay.health()
        return bool(transport.ok and relay.ok and self._subscribed)
