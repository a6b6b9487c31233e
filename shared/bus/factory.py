"""Pick the transport from configuration: one URL per deployment."""

from __future__ import annotations

from typing import Any

from shared.bus.inprocess import InProcessTransport
from shared.bus.jetstream import NatsSettings, NatsTransport
from shared.bus.transport import Transport

__all__ = ["transport_from_url"]

IN_PROCESS_URLS = ("", "inprocess:", "inprocess://", "memory:", "memory://")


def transport_from_url(url: str | None, **nats_overrides: Any) -> Transport:
    """``None``/``inprocess://`` -> :class:`InProcessTransport` (embedded mode);
    ``nats://host:4222[,nats://...][?stream=PAINREVIEW&replicas=3&prefix=painreview]`` ->
    :class:`NatsTransport` (production). ``nats_overrides`` are :class:`NatsSettings` fields.
    """
    if url is None or url.strip() in IN_PROCESS_URLS:
        return InProcessTransport()
    if url.startswith(("nats://", "tls://")):
        return NatsTransport(NatsSettings.from_url(url, **nats_overrides))
    raise ValueError("event bus URL must be inprocess:// or nats://host:port")
