"""Helpers the event backbone's unit tests share: a test effect table, a producer, a consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from shared.bus import Backoff, InProcessTransport, Transport
from shared.contracts import REFERRAL_ACCEPTED_V1, CloudEvent, new_event
from shared.outbox import EventHandler, Inbox, OutboxRelay, record_event

effects_metadata = sa.MetaData()
effects = sa.Table(
    "effects",
    effects_metadata,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False),  # deliberately not unique: doubles must show
    sa.Column("subject", sa.String(256), nullable=False),
)


def accepted(subject: str = "ServiceRequest/1", **overrides: object) -> CloudEvent:
    fields: dict = {
        "source": "/painreview/referral",
        "subject": subject,
        "practice": "A81001",
        "data": {"resourceType": "ServiceRequest", "id": subject.rsplit("/", 1)[-1], "status": "active"},
    }
    fields.update(overrides)
    return new_event(REFERRAL_ACCEPTED_V1, **fields)


def emit(engine: Engine, events: list[CloudEvent]) -> None:
    """A producer: one transaction per event, with a state change beside it."""
    for event in events:
        with engine.begin() as conn:
            conn.execute(effects.insert().values(event_id="produced:" + event.id, subject=event.subject))
            record_event(conn, event)


def apply_effect(conn: Connection, event: CloudEvent) -> None:
    conn.execute(effects.insert().values(event_id=event.id, subject=event.subject))


def applied(engine: Engine) -> list[tuple[str, str]]:
    """(event id, subject) of every effect applied, in the order applied."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(effects.c.event_id, effects.c.subject)
            .where(~effects.c.event_id.startswith("produced:"))
            .order_by(effects.c.n)
        ).all()
    return [(r.event_id, r.subject) for r in rows]


@dataclass
class Running:
    relay: OutboxRelay
    inbox: Inbox
    transport: Transport


FAST = Backoff(initial=0.01, maximum=0.05, jitter=0.0)


@asynccontextmanager
async def running(
    producer: Engine,
    consumer: Engine,
    transport: Transport | None = None,
    *,
    handler: EventHandler = apply_effect,
    max_deliver: int = 3,
    poll_interval: float = 0.05,
    **relay_options: Any,
) -> AsyncIterator[Running]:
    """A producer's relay and a consumer's inbox wired through ``transport`` (in-process by default)."""
    transport = transport or InProcessTransport()
    inbox = Inbox(consumer, transport, max_deliver=max_deliver, backoff=FAST, replay_poll=0.05)
    await inbox.subscribe("careplan", [REFERRAL_ACCEPTED_V1], handler)
    await transport.start()
    await inbox.start()
    relay = OutboxRelay(producer, transport, name="referral", poll_interval=poll_interval, **relay_options)
    await relay.start()
    try:
        yield Running(relay, inbox, transport)
    finally:
        await relay.close()
        await inbox.close()
        await transport.close()
