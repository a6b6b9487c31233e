"""One durable JetStream pull consumer, pulled continuously so that latency stays low.

The consumer keeps pull requests open (``batch`` messages each, ``expires`` seconds, idle heartbeats; the
next asked for when half of the last has arrived), hands whatever has arrived to the subscription's
batch handler, acknowledges after the handler's commit, naks with backoff on failure, and after the
redelivery limit publishes the message to the dead-letter subject (original headers plus the failure) and
terminates it. A missing heartbeat or a reconnect renews the pull.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shared.bus.metrics import DEAD_LETTERED, REDELIVERED
from shared.bus.transport import Failure, Outcome, Received, Subscription, describe_error
from shared.contracts import CloudEvent, InvalidEnvelope, from_json

__all__ = ["DEAD_LETTER_MARGIN", "JetStreamConsumer", "PullOptions", "durable_name"]

log = logging.getLogger(__name__)

# The server may deliver a few more times than our limit so that a dead-letter publish that failed (or a
# process that died on the last attempt) is retried; deliveries past the limit go straight to dead letters.
DEAD_LETTER_MARGIN = 5
_HEADER_PREFIX = "Painreview-"


def durable_name(consumer: str, event_type: str) -> str:
    """The JetStream durable consumer name of one consumer and one event type."""
    return f"{consumer}--{event_type.replace('.', '_')}"


@dataclass(frozen=True)
class PullOptions:
    stream: str
    subject_prefix: str
    ack_wait: float
    max_ack_pending: int
    publish_timeout: float
    expires: float = 5.0
    heartbeat: float = 1.0


def delivery_count(msg: Msg) -> int:
    """How many times JetStream has delivered ``msg``. A v1 ack subject
    (``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>``) is read
    directly: ``msg.metadata`` also parses the time and builds objects, a tenth of a consumer's CPU."""
    tokens = (msg.reply or "").split(".")
    if len(tokens) == 9 and tokens[:2] == ["$JS", "ACK"]:
        return int(tokens[4])
    return msg.metadata.num_delivered


class JetStreamConsumer:
    """Runs one subscription's handler for one event type on its durable pull consumer."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        subscription: Subscription,
        event_type: str,
        options: PullOptions,
    ) -> None:
        self.subscription = subscription
        self.event_type = event_type
        self.durable = durable_name(subscription.consumer, event_type)
        self._nc, self._js, self._opts = nc, js, options
        self._queue: asyncio.Queue[Msg | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._renew = True

    def consumer_config(self) -> ConsumerConfig:
        sub = self.subscription
        return ConsumerConfig(
            durable_name=self.durable,
            description=f"{sub.consumer} <- {self.event_type}",
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._opts.ack_wait,
            max_deliver=sub.max_deliver + DEAD_LETTER_MARGIN,
            max_ack_pending=self._opts.max_ack_pending,
            filter_subject=f"{self._opts.subject_prefix}.{self.event_type}",
        )

    async def start(self) -> None:
        await self._js.add_consumer(self._opts.stream, self.consumer_config())
        inbox = self._nc.new_inbox()
        self._inbox_sub = await self._nc.subscribe(inbox, cb=self._on_message)
        self._inbox = inbox
        self._task = asyncio.create_task(self._run(), name=f"jetstream:{self.durable}")

    def renew(self) -> None:
        """After a reconnect the server has forgotten our pull request: ask again now."""
        self._renew = True
        self._queue.put_nowait(None)

    async def _on_message(self, msg: Msg) -> None:
        self._queue.put_nowait(msg)

    async def _pull(self, batch: int) -> None:
        request = {
            "batch": batch,
            "expires": int(self._opts.expires * 1e9),
            "idle_heartbeat": int(self._opts.heartbeat * 1e9),
        }
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self._opts.stream}.{self.durable}"
        await self._nc.publish(subject, json.dumps(request).encode(), reply=self._inbox)

    async def _run(self) -> None:
        batch_size = self.subscription.max_batch
        outstanding = 0  # messages asked for and not yet received
        while not self._stopping:
            try:
                if self._renew:
                    self._renew, outstanding = False, 0
                # Ask for the next batch while half of this one is still coming: the server never
                # waits for a pull request while we apply a batch.
                if outstanding <= batch_size // 2:
                    await self._pull(batch_size)
                    outstanding += batch_size
                try:
                    first = await asyncio.wait_for(self._queue.get(), self._opts.heartbeat * 3)
                except TimeoutError:
                    self._renew = True  # no heartbeat: the request is gone (restart, reconnect)
                    continue
                items = [first]
                while not self._queue.empty():
                    items.append(self._queue.get_nowait())
                messages: list[Msg] = []
                for msg in items:
                    if msg is None:
                        continue
                    status = (msg.headers or {}).get("Status")
                    if status is None:
                        messages.append(msg)
                        outstanding -= 1
                    elif status != "100":  # 408 expired, 409 limits or leadership change: ask again
                        self._renew = True
                        if (
                            status == "409"
                            and "deleted" in (msg.headers or {}).get("Description", "").lower()
                        ):
                            await self._js.add_consumer(self._opts.stream, self.consumer_config())
                if messages and not self._stopping:
                    await self._process(messages)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection trouble: keep going, the client reconnects
                log.warning("consumer %s: %s; retrying", self.durable, type(exc).__name__)
                self._renew = True
                await asyncio.sleep(0.5)

    async def _process(self, messages: list[Msg]) -> None:
        sub = self.subscription
        work: list[tuple[Msg, Received]] = []
        for msg in messages:
            attempt = delivery_count(msg)
            try:
                event = from_json(msg.data)
            except InvalidEnvelope as exc:
                await self._give_up(msg, f"undecodable: {exc}", attempt, None)
                continue
            if attempt > 1:
                REDELIVERED.labels(sub.consumer, event.type).inc()
            if attempt > sub.max_deliver:  # died or failed to dead-letter on the last attempt
                await self._give_up(msg, "redelivery limit reached", attempt, event)
                continue
            work.append((msg, Received(event, attempt)))
        if not work:
            return
        try:
            outcomes: list[Outcome] = list(await sub.handle([r for _, r in work]))
        except Exception as exc:
            outcomes = [Failure(describe_error(exc))] * len(work)
        for (msg, item), outcome in zip(work, outcomes, strict=True):
            if outcome is None:
                await msg.ack()
            elif item.attempt >= sub.max_deliver:
                await self._give_up(msg, outcome.error, item.attempt, item.event)
            else:
                log.warning(
                    "consumer %s failed event %s (%s), attempt %d",
                    sub.consumer,
                    item.event.id,
                    item.event.type,
                    item.attempt,
                )
                await msg.nak(delay=sub.backoff.delay(item.attempt))

    async def _give_up(self, msg: Msg, error: str, attempt: int, event: CloudEvent | None) -> None:
        consumer = self.subscription.consumer
        try:
            await self.publish_dead_letter(msg, error, attempt)
        except Exception as exc:
            log.error("consumer %s cannot dead-letter a message: %s", consumer, type(exc).__name__)
            await msg.nak(delay=self.subscription.backoff.delay(attempt))
            return
        await msg.term()
        type_ = event.type if event is not None else self.event_type
        DEAD_LETTERED.labels(consumer, type_).inc()
        log.error("consumer %s dead-lettered event %s (%s)", consumer, event.id if event else "?", type_)

    async def publish_dead_letter(self, msg: Msg, error: str, attempt: int) -> None:
        sequence = msg.metadata.sequence.stream
        headers: dict[str, Any] = {k: v for k, v in (msg.headers or {}).items() if k != "Nats-Msg-Id"}
        headers.update(
            {
                "Nats-Msg-Id": f"dlq:{self.subscription.consumer}:{sequence}",
                f"{_HEADER_PREFIX}Error": " ".join(error.split())[:500],
                f"{_HEADER_PREFIX}Consumer": self.subscription.consumer,
                f"{_HEADER_PREFIX}Original-Subject": msg.subject,
                f"{_HEADER_PREFIX}Original-Sequence": str(sequence),
                f"{_HEADER_PREFIX}Attempts": str(attempt),
            }
        )
        subject = f"{self._opts.subject_prefix}.deadletter.{self.subscription.consumer}"
        await self._js.publish(
            subject, msg.data, timeout=self._opts.publish_timeout, stream=self._opts.stream, headers=headers
        )

    async def close(self, timeout: float) -> None:
        self._stopping = True
        if self._task is not None:
            self._queue.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        if hasattr(self, "_inbox_sub"):
            try:
                await self._inbox_sub.unsubscribe()
            except Exception as exc:  # already disconnected
                log.debug("unsubscribe %s: %s", self.durable, type(exc).__name__)
