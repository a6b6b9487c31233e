"""gp.record-read-requested (a follow-up after discharge): the GP record is read on the follow-up's day,
not before, by the delivery worker's clock; a patient never known here is not read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.gpconnect import consumers
from shared.contracts import GP_RECORD_READ_REQUESTED_V1, new_event
from tests.unit.gpconnect.deliveries import PRACTICE, enrolled
from tests.unit.gpconnect.records import load_fixture

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def follow_up(patient_id: str, day: str) -> object:
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "for": {"reference": f"Patient/{patient_id}"},
        "executionPeriod": {"start": day},
    }
    return new_event(
        GP_RECORD_READ_REQUESTED_V1,
        source="/painreview/medreview",
        subject="Task/t1",
        practice=PRACTICE,
        data=task,
    )


async def test_the_gp_record_is_read_again_on_the_follow_ups_day_and_not_before(deliveries):
    deliveries.gp.records["9990000018"] = load_fixture("gpc-structured-opioid-record.json")
    deliveries.deliver_event(enrolled())  # gpconnect learns pat-1's NHS number
    await deliveries.drain()
    day = (datetime.now(UTC) + timedelta(days=90)).date()
    deliveries.consume(consumers.on_record_read_requested, follow_up("pat-1", day.isoformat()))
    await deliveries.worker.run_once()
    assert sorted(deliveries.states().values()) == ["done", "pending"]  # the follow-up read waits
    deliveries.clock.advance(
        (datetime(day.year, day.month, day.day, tzinfo=UTC) - datetime.now(UTC)).total_seconds()
    )
    await deliveries.drain()
    assert sorted(deliveries.states().values()) == ["done", "done"]
    synced = [e for e in deliveries.outbox_events() if e.type == "medication.list-synced.v1"]
    assert len(synced) == 2 and json.loads(synced[-1].payload)["subject"] == "Patient/pat-1"


async def test_a_patient_never_known_here_is_not_read(deliveries):
    deliveries.consume(consumers.on_record_read_requested, follow_up("nobody", "2027-01-01"))
    assert deliveries.rows() == []
