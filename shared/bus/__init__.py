"""The event bus: a :class:`Transport` seam with an in-process and a NATS JetStream implementation."""

from shared.bus.errors import BusError, PublishError, TransportClosed
from shared.bus.factory import transport_from_url
from shared.bus.inprocess import InProcessTransport
from shared.bus.jetstream import NatsSettings, NatsTransport
from shared.bus.transport import (
    Backoff,
    BatchHandler,
    DeadLetter,
    DeadLetterSink,
    Failure,
    Health,
    Outcome,
    Outgoing,
    Receipt,
    Received,
    Subscription,
    Transport,
    describe_error,
    publish_each,
)

__all__ = [
    "Backoff",
    "BatchHandler",
    "BusError",
    "DeadLetter",
    "DeadLetterSink",
    "Failure",
    "Health",
    "InProcessTransport",
    "NatsSettings",
    "NatsTransport",
    "Outcome",
    "Outgoing",
    "PublishError",
    "Receipt",
    "Received",
    "Subscription",
    "Transport",
    "TransportClosed",
    "describe_error",
    "publish_each",
    "transport_from_url",
]
