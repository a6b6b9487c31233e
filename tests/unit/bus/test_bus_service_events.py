"""ServiceEvents: the wiring services use, embedded style (one in-process transport for all)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from bus_support import accepted, applied, apply_effect, effects_metadata, emit, wait_for

from shared.bus import InProcessTransport
from shared.contracts import REFERRAL_ACCEPTED_V1
from shared.db import make_engine
from shared.outbox import ServiceEvents, inbox, outbox, prune
from shared.outbox import metadata as outbox_metadata

pytestmark = pytest.mark.anyio


async def test_two_services_on_one_in_process_transport_exchange_an_event(make_db) -> None:
    transport = InProcessTransport()
    referral = ServiceEvents("referral", make_db("referral"), transport)
    careplan = ServiceEvents("careplan", make_db("careplan"), transport)
    await careplan.subscribe("careplan", [REFERRAL_ACCEPTED_V1], apply_effect)
    assert not (await referral.health()).ok  # nothing started yet
    await transport.start()
    for service in (referral, careplan):
        await service.start()
    try:
        assert (await referral.health()).ok and (await careplan.health()).ok
        emit(referral.engine, [event := accepted()])
        referral.notify()
        await wait_for(lambda: applied(careplan.engine) == [(event.id, event.subject)])
    finally:
        for service in (referral, careplan):
            await service.close()
        await transport.close()
    health = await careplan.health()
    assert not health.ok and "closed" in health.detail


async def test_prune_deletes_old_published_rows_and_old_inbox_rows_only(make_db) -> None:
    transport = InProcessTransport()
    referral = ServiceEvents("referral", make_db("referral"), transport)
    await referral.subscribe("careplan", [REFERRAL_ACCEPTED_V1], apply_effect)  # consumes its own
    await transport.start()
    await referral.start()
    try:
        emit(referral.engine, [accepted(), accepted("ServiceRequest/2")])
        assert await referral.relay.wait_idle(5)
    finally:
        await referral.close()
        await transport.close()
    emit(referral.engine, [accepted("ServiceRequest/3")])  # unpublished: never pruned
    assert prune(
        referral.engine, published_before=timedelta(hours=1), processed_before=timedelta(days=1)
    ) == (0, 0)
    assert prune(referral.engine, published_before=timedelta(0), processed_before=timedelta(0)) == (2, 2)
    with referral.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one() == 0


async def test_an_in_memory_database_survives_its_relay() -> None:
    memory = make_engine("sqlite://")
    outbox_metadata.create_all(memory)
    effects_metadata.create_all(memory)
    transport = InProcessTransport()
    service = ServiceEvents("referral", memory, transport)
    await transport.start()
    await service.start()
    emit(memory, [accepted()])
    assert await service.relay.wait_idle(5)
    await service.close()
    await transport.close()
    with memory.connect() as conn:  # the one shared connection was not discarded
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 1
    memory.dispose()


async def test_a_consumer_name_must_be_usable_as_a_nats_durable(make_db) -> None:
    service = ServiceEvents("careplan", make_db("careplan"), InProcessTransport())
    with pytest.raises(ValueError, match="consumer name"):
        await service.subscribe("care.plan", [REFERRAL_ACCEPTED_V1], apply_effect)
