"""NATS JetStream transport (production): one stream, durable pull consumers, dead-letter subject.

Subjects are ``<prefix>.<type>`` (``painreview.referral.accepted.v1``) in one stream (``PAINREVIEW`` on
``painreview.>``). A publish carries ``Nats-Msg-Id`` = the event id, so the stream drops a repeat within
its duplicate window, and returns only after the stream's PubAck (the message is stored; with the
production server configuration, fsynced and replicated).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, PubAck, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError, ServiceUnavailableError

from shared.bus.errors import BusError, PublishError, TransportClosed
from shared.bus.nats_consumer import JetStreamConsumer, PullOptions
from shared.bus.transport import Health, Outgoing, Receipt, Subscription
from shared.contracts import CLOUDEVENTS_JSON, CloudEvent, to_json

__all__ = ["NatsSettings", "NatsTransport"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NatsSettings:
    """Where and how to talk to JetStream. Durations in seconds.

    ``replicas`` is 3 in a 3-node cluster and 1 on a single server; ``connect_wait`` bounds how long
    :meth:`NatsTransport.start` waits for a server, and then for its JetStream API to answer the stream's
    setup (``None``: until they answer).
    """

    servers: tuple[str, ...] = ("nats://127.0.0.1:4222",)
    stream: str = "PAINREVIEW"
    subject_prefix: str = "painreview"
    replicas: int = 1
    duplicate_window: float = 300.0
    max_age: float = 30 * 24 * 3600.0
    publish_timeout: float = 5.0
    ack_wait: float = 30.0
    max_ack_pending: int = 1000
    connect_wait: float | None = 60.0
    client_name: str = "painreview"
    extra_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> NatsSettings:
        """``nats://h1:4222,nats://h2:4222?stream=PAINREVIEW&replicas=3&prefix=painreview``."""
        base, _, query = url.partition("?")
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        servers = tuple(s.strip() for s in base.split(",") if s.strip())
        if not servers or any(urlsplit(s).scheme not in ("nats", "tls") for s in servers):
            raise ValueError("NATS URL must be nats://host:port[,nats://host:port...]")
        settings = cls(servers=tuple(urlunsplit(urlsplit(s)) for s in servers))
        typed: dict[str, Any] = {}
        for name, convert in (
            ("stream", str),
            ("replicas", int),
            ("duplicate_window", float),
            ("ack_wait", float),
            ("max_ack_pending", int),
        ):
            if name in params:
                typed[name] = convert(params[name])
        if "prefix" in params:
            typed["subject_prefix"] = params["prefix"]
        return replace(settings, **typed, **overrides)

    def subject_for(self, event_type: str) -> str:
        return f"{self.subject_prefix}.{event_type}"

    def stream_config(self) -> StreamConfig:
        return StreamConfig(
            name=self.stream,
            description="Pain review domain events (CloudEvents 1.0, FHIR R4 data)",
            subjects=[f"{self.subject_prefix}.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            num_replicas=self.replicas,
            duplicate_window=self.duplicate_window,
            max_age=self.max_age,
        )


class NatsTransport:
    """Publishes to and consumes from JetStream with nats-py."""

    name = "nats"

    def __init__(self, settings: NatsSettings | None = None, *, close_timeout: float = 10.0) -> None:
        self.settings = settings or NatsSettings()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._subscriptions: list[Subscription] = []
        self._consumers: list[JetStreamConsumer] = []
        self._closed = False
        self._close_timeout = close_timeout

    @property
    def jetstream(self) -> JetStreamContext:
        """The JetStream context (for operations tooling); only after :meth:`start`."""
        if self._js is None:
            raise TransportClosed("NATS transport not started")
        return self._js

    async def start(self) -> None:
        if self._closed:
            raise TransportClosed("transport closed")
        s = self.settings
        options: dict[str, Any] = {
            "servers": list(s.servers),
            "name": s.client_name,
            "max_reconnect_attempts": -1,  # an outage must never end publishing for good
            "reconnect_time_wait": 0.5,
            "connect_timeout": 2,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
            **s.extra_options,
        }
        try:
            self._nc = await asyncio.wait_for(nats.connect(**options), s.connect_wait)
        except TimeoutError:
            raise BusError(f"no NATS server answered within {s.connect_wait} s") from None
        self._js = self._nc.jetstream(timeout=s.publish_timeout)
        await self._ensure_stream()
        for subscription in self._subscriptions:
            await self._start_consumers(subscription)

    async def _ensure_stream(self) -> None:
        """The stream, created or brought up to date; retried while the JetStream API does not answer (a
        cluster electing its meta leader, or busy creating the stream for another service starting at
        the same moment: one such 5 s timeout made a service exit at start-up), up to ``connect_wait``."""
        wait = self.settings.connect_wait
        deadline = None if wait is None else time.monotonic() + wait
        delay = 0.2
        while True:
            try:
                await self._ensure_stream_once()
                return
            except (NatsTimeout, ServiceUnavailableError) as exc:
                if deadline is not None and time.monotonic() + delay > deadline:
                    raise BusError(f"JetStream did not answer the stream's setup within {wait} s") from exc
                log.warning("JetStream stream setup: %s; trying again in %.1f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, 2.0)

    async def _ensure_stream_once(self) -> None:
        js, wanted = self.jetstream, self.settings.stream_config()
        try:
            info = await js.stream_info(self.settings.stream)
        except NotFoundError:
            await js.add_stream(wanted)
            log.info("created stream %s (replicas=%s)", wanted.name, wanted.num_replicas)
            return
        have = info.config
        if set(have.subjects or ()) != set(wanted.subjects or ()) or (
            have.duplicate_window != wanted.duplicate_window
        ):
            await js.update_stream(
                replace(have, subjects=wanted.subjects, duplicate_window=wanted.duplicate_window)
            )
        if have.num_replicas != wanted.num_replicas or have.storage != wanted.storage:
            log.warning(
                "stream %s has replicas=%s storage=%s; configured replicas=%s storage=%s",
                wanted.name,
                have.num_replicas,
                have.storage,
                wanted.num_replicas,
                wanted.storage,
            )

    async def _start_consumers(self, subscription: Subscription) -> None:
        assert self._nc is not None and self._js is not None
        s = self.settings
        options = PullOptions(
            stream=s.stream,
            subject_prefix=s.subject_prefix,
            ack_wait=s.ack_wait,
            max_ack_pending=s.max_ack_pending,
            publish_timeout=s.publish_timeout,
        )
        for event_type in subscription.event_types:
            consumer = JetStreamConsumer(self._nc, self._js, subscription, event_type, options)
            await consumer.start()
            self._consumers.append(consumer)

    async def subscribe(self, subscription: Subscription) -> None:
        if self._closed:
            raise TransportClosed("transport closed")
        self._subscriptions.append(subscription)
        if self._js is not None:
            await self._start_consumers(subscription)

    @staticmethod
    def _headers(event: CloudEvent | Outgoing) -> dict[str, str]:
        headers = {
            "Nats-Msg-Id": event.id,
            "Content-Type": CLOUDEVENTS_JSON,
            "ce-type": event.type,
            "ce-practice": event.practice,
        }
        if event.traceparent:
            headers["traceparent"] = event.traceparent
        return headers

    async def publish(self, event: CloudEvent) -> Receipt:
        if self._closed or self._js is None:
            raise TransportClosed("NATS transport not running")
        try:
            ack = await self._js.publish(
                self.settings.subject_for(event.type),
                to_json(event),
                timeout=self.settings.publish_timeout,
                stream=self.settings.stream,
                headers=self._headers(event),
            )
        except (NatsError, TimeoutError, OSError) as exc:
            raise PublishError(f"no PubAck for {event.id}: {type(exc).__name__}") from exc
        return Receipt(duplicate=bool(ack.duplicate), sequence=ack.seq)

    async def publish_many(self, events: Sequence[Outgoing]) -> list[Receipt | PublishError]:
        """Send every event before waiting for any PubAck (JetStream async publish), then wait at most
        ``publish_timeout`` for them all: one round trip for the batch instead of one per event."""
        if self._closed or self._js is None:
            raise TransportClosed("NATS transport not running")
        s = self.settings
        sent: list[asyncio.Future[PubAck] | BaseException] = []
        for event in events:
            try:
                sent.append(
                    await self._js.publish_async(
                        s.subject_for(event.type),
                        event.payload,
                        wait_stall=None,  # at most max_in_flight are pending: never stalls
                        stream=s.stream,
                        headers=self._headers(event),
                    )
                )
            except (NatsError, TimeoutError, OSError) as exc:
                sent.append(exc)
        waiting = [f for f in sent if isinstance(f, asyncio.Future)]
        try:
            if waiting:
                await asyncio.wait(waiting, timeout=s.publish_timeout)
        except asyncio.CancelledError:  # the relay is stopping: give the client its slots back
            for future in waiting:
                future.cancel()
            raise
        results: list[Receipt | PublishError] = []
        for event, outcome in zip(events, sent, strict=True):
            if isinstance(outcome, asyncio.Future):
                if not outcome.done():
                    outcome.cancel()  # frees its slot; a late PubAck finds no future and is ignored
                    results.append(PublishError(f"no PubAck for {event.id}: TimeoutError"))
                    continue
                error = outcome.exception()
                if error is None:
                    ack = outcome.result()
                    results.append(Receipt(duplicate=bool(ack.duplicate), sequence=ack.seq))
                    continue
                outcome = error
            results.append(PublishError(f"no PubAck for {event.id}: {type(outcome).__name__}"))
        return results

    async def health(self) -> Health:
        if self._closed:
            return Health(False, "NATS transport closed")
        if self._nc is None or self._js is None:
            return Health(False, "NATS transport not started")
        if not self._nc.is_connected:
            return Health(False, "not connected to NATS (reconnecting)")
        try:
            info = await self._js.stream_info(self.settings.stream)
        except Exception as exc:
            return Health(False, f"stream {self.settings.stream} unavailable: {type(exc).__name__}")
        return Health(True, f"stream {self.settings.stream}: {info.state.messages} messages")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(c.close(self._close_timeout) for c in self._consumers))
        if self._nc is not None and not self._nc.is_closed:
            try:
                await self._nc.close()
            except OSError as exc:  # the server went away mid-flush (BrokenPipeError): closed all the same
                log.warning("NATS connection closed with %s", type(exc).__name__)

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS: %s", type(exc).__name__)

    async def _on_disconnected(self) -> None:
        if not self._closed:
            log.warning("NATS disconnected")

    async def _on_reconnected(self) -> None:
        log.info("NATS reconnected")
        for consumer in self._consumers:
            consumer.renew()
