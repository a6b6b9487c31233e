"""Pruning old rows, an in-memory database, and consumer names."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from bus_support import accepted, apply_effect, effects_metadata, emit, running

from shared.bus import InProcessTransport
from shared.contracts import REFERRAL_ACCEPTED_V1
from shared.db import make_engine
from shared.outbox import Inbox, inbox, outbox, prune
from shared.outbox import metadata as outbox_metadata

pytestmark = pytest.mark.anyio


async def test_prune_deletes_old_published_rows_and_old_inbox_rows_only(make_db) -> None:
    db = make_db("referral")
    async with running(db, db) as run:  # a service consuming its own events
        emit(db, [accepted(), accepted("ServiceRequest/2")])
        assert await run.relay.wait_idle(60)
    emit(db, [accepted("ServiceRequest/3")])  # unpublished: never pruned
    assert prune(db, published_before=timedelta(hours=1), processed_before=timedelta(days=1)) == (0, 0)
    assert prune(db, published_before=timedelta(0), processed_before=timedelta(0)) == (2, 2)
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one() == 0


async def test_an_in_memory_database_survives_its_relay() -> None:
    memory = make_engine("sqlite://")
    outbox_metadata.create_all(memory)
    effects_metadata.create_all(memory)
    async with running(memory, memory) as run:
        emit(memory, [accepted()])
        assert await run.relay.wait_idle(60)
    with memory.connect() as conn:  # the one shared connection was not discarded
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 1
    memory.dispose()


async def test_a_consumer_name_must_be_usable_as_a_nats_durable(make_db) -> None:
    with pytest.raises(ValueError, match="consumer name"):
        await Inbox(make_db("careplan"), InProcessTransport()).subscribe(
            "care.plan", [REFERRAL_ACCEPTED_V1], apply_effect
        )
