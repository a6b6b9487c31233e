"""`pain-review events dead-letters` and `replay nats:<seq>` against a real JetStream dead letter."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import nats
import pytest
from bus_int_support import apply_effect, effect_counts, emit_many, event_for, running
from click.testing import CliRunner
from sqlalchemy import Connection

from painreview.events_cli import events
from shared.bus import NatsSettings, NatsTransport
from shared.contracts import CloudEvent
from shared.outbox import nats_dead_letters
from tests.support import eventually_async

pytestmark = pytest.mark.integration


def test_an_operator_lists_a_nats_dead_letter_and_replays_it_once_fixed(
    make_pg, nats_url, monkeypatch
) -> None:
    tag = uuid.uuid4().hex[:10]
    settings = NatsSettings(servers=(nats_url,), stream=f"TEST_{tag}", subject_prefix=f"t{tag}")
    producer, consumer = make_pg("referral"), make_pg("careplan")
    poison = event_for(0)
    broken = {"yes": True}

    def handler(conn: Connection, event: CloudEvent) -> None:
        if broken["yes"]:
            raise KeyError("dosage.timing")
        apply_effect(conn, event)

    async def until_dead_lettered() -> None:
        async with running(
            producer, consumer, NatsTransport(settings), handler=handler, max_deliver=2
        ) as run:
            emit_many(producer, [poison])
            await eventually_async(
                lambda: nats_dead_letters(run.transport.jetstream, settings),  # type: ignore[attr-defined]
                within=30,
                what="the poison event dead-lettered",
            )

    async def consumer_applies() -> None:
        async with running(None, consumer, NatsTransport(settings), handler=handler):
            await eventually_async(
                lambda: effect_counts(consumer)[1] == 1,
                within=120,
                what="replayed event applied",
                in_thread=True,
            )

    async def drop_stream() -> None:
        nc = await nats.connect(nats_url)
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(settings.stream)
        await nc.close()

    monkeypatch.setenv("PAINREVIEW_EVENTS_NATS_URL", f"{nats_url}?stream={settings.stream}&prefix=t{tag}")
    monkeypatch.setenv("PAINREVIEW_EVENTS_DATABASES", f"careplan={consumer.url.render_as_string(False)}")
    runner = CliRunner()
    try:
        asyncio.run(until_dead_lettered())
        listed = runner.invoke(events, ["dead-letters", "--json"])
        assert listed.exit_code == 0, listed.output
        [letter] = [x for x in json.loads(listed.output) if x["id"].startswith("nats:")]
        assert (letter["consumer"], letter["event_id"], letter["attempts"]) == ("careplan", poison.id, 2)

        broken["yes"] = False
        replayed = runner.invoke(events, ["replay", letter["id"]])
        assert replayed.exit_code == 0, replayed.output
        asyncio.run(consumer_applies())
        assert effect_counts(consumer) == (1, 1)
        assert runner.invoke(events, ["dead-letters"]).output.strip() == "no dead letters"
    finally:
        asyncio.run(drop_stream())
