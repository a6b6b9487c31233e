"""One service's event plumbing in one object: its outbox relay and its inbox, on a shared transport.

Embedded mode (``pain-review up``): one :class:`~shared.bus.InProcessTransport` for every service::

    transport = transport_from_url(None)
    events = {name: ServiceEvents(name, engine, transport) for name, engine in engines.items()}
    await events["careplan"].subscribe("careplan", [REFERRAL_ACCEPTED_V1], on_referral_accepted)
    await transport.start()                      # after every subscription
    for e in events.values(): await e.start()
    ...
    for e in events.values(): await e.close()
    await transport.close()

Production (``pain-review serve <service>``): the same with ``transport_from_url(settings.nats_url)``,
one service per process.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine

from shared.bus import Backoff, Health, Transport
from shared.contracts import EventType
from shared.outbox.inbox import EventHandler, Inbox
from shared.outbox.relay import OutboxRelay

__all__ = ["ServiceEvents"]


class ServiceEvents:
    """The relay of ``engine``'s outbox and the consumers applying events to ``engine``."""

    def __init__(
        self,
        name: str,
        engine: Engine,
        transport: Transport,
        *,
        max_deliver: int = 5,
        backoff: Backoff | None = None,
        max_in_flight: int = 64,
        poll_interval: float = 0.25,
    ) -> None:
        self.name, self.engine, self.transport = name, engine, transport
        self.inbox = Inbox(engine, transport, max_deliver=max_deliver, backoff=backoff)
        self.relay = OutboxRelay(
            engine, transport, name=name, max_in_flight=max_in_flight, poll_interval=poll_interval
        )

    async def subscribe(
        self,
        consumer: str,
        event_types: Iterable[str | EventType],
        handler: EventHandler,
        *,
        max_deliver: int | None = None,
    ) -> None:
        """See :meth:`Inbox.subscribe`; call before the transport starts (in-process) or any time (NATS)."""
        await self.inbox.subscribe(consumer, event_types, handler, max_deliver=max_deliver)

    def notify(self) -> None:
        """Wake the relay after a commit that recorded events (automatic for pooled connections)."""
        self.relay.notify()

    async def start(self) -> None:
        """Start the relay and the dead-letter replays; the transport must be started already."""
        await self.inbox.start()
        await self.relay.start()

    async def close(self) -> None:
        """Stop the relay and the inbox (before closing the transport)."""
        await self.relay.close()
        await self.inbox.close()

    async def health(self) -> Health:
        """For ``/readyz``: the transport, the relay and the inbox, in one answer."""
        parts = [await self.transport.health(), await self.relay.health(), await self.inbox.health()]
        return Health(all(p.ok for p in parts), "; ".join(p.detail for p in parts))
