"""The delivery worker with a fake GP system: retries, backoff, breaker, dead letters, idempotency."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from services.gpconnect.delivery.adapters import PermanentDeliveryError, TaskDecision, TransientDeliveryError
from services.gpconnect.delivery.adapters.gpconnect_fhir import new_prescription
from shared.contracts import CloudEvent
from shared.contracts.taper import REPLACES_AUTHORISATION_URL, REPLACES_PRESCRIPTION_URL
from shared.outbox import request_replay
from tests.support import eventually_async
from tests.unit.gpconnect.deliveries import (
    enrolled,
    prescription_changed,
    task_requested,
)
from tests.unit.gpconnect.records import load_fixture

pytestmark = pytest.mark.anyio

MEDICATION_SOURCE = "https://pain-review.example.org/fhir/CodeSystem/medication-source"
TIMEOUT = TransientDeliveryError("ReadTimeout calling the GP system")


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def enrol(h):
    h.deliver_event(enrolled())
    await h.drain()


async def test_an_enrolment_reads_the_gp_record_and_publishes_the_synced_medication_list(deliveries):
    deliveries.gp.records["9990000018"] = load_fixture("gpc-structured-opioid-record.json")
    deliveries.deliver_event(enrolled())
    await deliveries.drain()
    assert list(deliveries.states().values()) == ["done"]
    [event] = deliveries.outbox_events()
    assert event.type == "medication.list-synced.v1"
    data = json.loads(event.payload)["data"]
    assert data["entry"][0]["resource"]["id"] == "pat-1"
    assert event.subject == "Patient/pat-1"


async def test_transient_failures_are_retried_with_backoff_until_delivered(deliveries):
    await enrol(deliveries)
    deliveries.deliver_event(prescription_changed())
    deliveries.gp.failures.extend([TIMEOUT, TIMEOUT])
    await deliveries.worker.run_once()
    [row] = [r for r in deliveries.rows() if r.kind == "prescription"]
    assert row.kind == "prescription" and row.attempts == 1 and row.state == "pending"
    assert row.next_attempt_at is not None
    await deliveries.drain()
    assert deliveries.states()[f"{row.event_id}:prescription"] == "done"
    assert len(deliveries.gp.prescriptions) == 1


async def test_after_the_retry_budget_a_delivery_is_dead_lettered_and_visible(deliveries):
    await enrol(deliveries)
    deliveries.deliver_event(prescription_changed())
    deliveries.gp.failures.extend([TIMEOUT] * 10)
    await deliveries.drain()
    [row] = [r for r in deliveries.rows() if r.kind == "prescription"]
    assert (row.state, row.attempts) == ("dead", 4)
    [letter] = deliveries.dead_letters()
    assert letter.consumer == "gpconnect-delivery:prescription"
    assert letter.event_id == row.event_id and letter.type == "prescription.changed.v1"
    assert "ReadTimeout" in letter.error


async def test_a_replayed_dead_letter_is_delivered_again_and_marked_replayed(deliveries):
    await enrol(deliveries)
    deliveries.deliver_event(prescription_changed())
    deliveries.gp.failures.extend([TIMEOUT] * 4)
    await deliveries.drain()
    [letter] = deliveries.dead_letters()
    assert request_replay(deliveries.engine, letter.id)
    await deliveries.drain()
    assert [r.state for r in deliveries.rows() if r.kind == "prescription"] == ["done"]
    [letter] = deliveries.dead_letters()
    assert letter.replayed_at is not None


async def test_a_refused_message_is_dead_lettered_at_once_without_retrying(deliveries):
    await enrol(deliveries)
    deliveries.deliver_event(prescription_changed())
    deliveries.gp.failures.append(PermanentDeliveryError("GP system refused the message: 422"))
    await deliveries.drain()
    [row] = [r for r in deliveries.rows() if r.kind == "prescription"]
    assert (row.state, row.attempts) == ("dead", 1)
    assert deliveries.gp.calls == 2  # the record read, then the one refused write


async def test_the_same_event_twice_makes_one_delivery(deliveries):
    event = prescription_changed()
    await enrol(deliveries)
    deliveries.deliver_event(event)
    deliveries.deliver_event(event)
    assert len([r for r in deliveries.rows() if r.kind == "prescription"]) == 1


async def test_a_write_whose_answer_was_lost_is_applied_once_at_the_far_end(deliveries):
    await enrol(deliveries)
    deliveries.deliver_event(prescription_changed())
    deliveries.gp.lost_answers = 2
    await deliveries.drain()
    assert deliveries.gp.applied == 1
    assert [r.attempts for r in deliveries.rows() if r.kind == "prescription"] == [2]


async def test_an_open_breaker_holds_deliveries_to_that_practice_without_calling_it(tmp_path):
    from tests.unit.gpconnect.deliveries import harness

    h = next(harness(tmp_path, max_attempts=20, breaker_threshold=2, open_s=30.0))
    await enrol(h)
    for n in range(5):
        h.deliver_event(prescription_changed(n))
    h.gp.failures.extend([TIMEOUT, TIMEOUT])
    await h.worker.run_once()  # five calls go out together; the first two fail and open the breaker
    calls = h.gp.calls
    for _ in range(5):
        h.clock.advance(5)
        await h.worker.run_once()
    assert h.gp.calls == calls  # nothing was sent while the circuit was open
    h.clock.advance(30)
    await h.drain()
    assert {r.state for r in h.rows() if r.kind == "prescription"} == {"done"}
    assert h.worker.breaker("A81001").state == "closed"
    h.engine.dispose()


async def test_a_task_waiting_for_a_patient_we_do_not_know_yet_is_delivered_once_we_do(deliveries):
    deliveries.deliver_event(task_requested("plan-summary"))
    await deliveries.worker.run_once()
    [row] = deliveries.rows()
    assert row.state == "pending" and "not known" in row.last_error
    deliveries.deliver_event(enrolled())
    await deliveries.drain()
    assert deliveries.states()[f"{row.event_id}:task"] == "done"
    assert deliveries.worker.breaker("A81001").failures == 0


async def test_the_gps_decision_on_an_approval_task_comes_back_as_gp_task_completed(deliveries):
    deliveries.deliver_event(enrolled())
    event = task_requested("approve-taper-step")
    deliveries.deliver_event(event)
    await deliveries.drain()
    key = f"{event.id}:task"
    assert deliveries.states()[key] == "awaiting-decision"
    await deliveries.drain(max_passes=3)  # still pending: asked again, nothing published
    assert "gp.task-completed.v1" not in deliveries.outbox_types()
    deliveries.gp.decisions[f"T-{key}"] = TaskDecision("completed", "approved", reason="Agreed with patient")
    deliveries.clock.advance(5)
    await deliveries.worker.run_once()
    assert deliveries.states()[key] == "done"
    [completed] = [e for e in deliveries.outbox_events() if e.type == "gp.task-completed.v1"]
    task = json.loads(completed.payload)["data"]
    assert task["status"] == "completed" and task["businessStatus"]["text"] == "approved"
    assert task["identifier"] == event.data["identifier"]
    assert task["statusReason"] == {"text": "Agreed with patient"}


async def test_a_plan_summary_with_an_attachment_also_goes_to_the_mesh_mailbox(deliveries):
    deliveries.deliver_event(enrolled())
    text = base64.b64encode(b"Pain management plan: pacing, sleep hygiene").decode()
    event = task_requested(
        "plan-summary",
        input=[
            {
                "type": {"text": "plan"},
                "valueAttachment": {"contentType": "text/plain", "data": text, "title": "plan"},
            }
        ],
    )
    deliveries.deliver_event(event)
    await deliveries.drain()
    assert deliveries.states()[f"{event.id}:document"] == "done"
    mailbox, document = deliveries.gp.documents.sent[f"{event.id}:document"]
    assert mailbox == "X26ABC2"
    assert document.content == b"Pain management plan: pacing, sleep hygiene"
    assert document.filename == "plan.txt"


def _following(previous: CloudEvent, n: int) -> CloudEvent:
    """Step ``n``'s change: it replaces medreview's order of the step before (ours, tagged as ours)."""
    event = prescription_changed(n)
    new, _ = (e["resource"] for e in event.data["entry"])
    before = json.loads(json.dumps(previous.data["entry"][0]["resource"]))
    before |= {"status": "stopped", "meta": {"tag": [{"system": MEDICATION_SOURCE, "code": "medreview"}]}}
    new["priorPrescription"] = {"reference": previous.subject}
    event.data["entry"][1] = {"fullUrl": previous.subject, "resource": before}
    return event


async def test_each_change_names_the_gp_systems_own_authorisation_and_the_record_is_read_again(deliveries):
    """Step 1 replaces the authorisation read over GP Connect (its GP identifier); step 2 replaces our step-1
    order, which the GP system knows only by the id it gave it; step 2 waits until step 1 is written; after
    each write the record is read again and published as the synced medication list."""
    await enrol(deliveries)
    first = prescription_changed(1)
    second = _following(first, 2)
    deliveries.deliver_event(second)
    await deliveries.worker.run_once()
    [waiting] = [r for r in deliveries.rows() if r.kind == "prescription"]
    assert waiting.state == "pending" and "not in the GP record yet" in waiting.last_error
    assert not deliveries.gp.prescriptions
    deliveries.deliver_event(first)
    await deliveries.drain()
    written = {key: change for key, change in deliveries.gp.prescriptions.items()}
    sent_first = new_prescription(written[f"{first.id}:prescription"])
    sent_second = new_prescription(written[f"{second.id}:prescription"])
    assert sent_first["priorPrescription"] == {"reference": "MedicationRequest/MR-MORPH"}
    assert sent_second["priorPrescription"] == {"reference": f"MedicationRequest/P-{first.id}:prescription"}
    synced = [e for e in deliveries.outbox_events() if e.type == "medication.list-synced.v1"]
    assert len(synced) == 3  # the enrolment's read and one after each write


def _replaces(sent: dict) -> list[str]:
    order = new_prescription(sent)
    return [
        e["valueReference"]["reference"]
        for e in order.get("extension", ())
        if e["url"] == REPLACES_AUTHORISATION_URL
    ]


async def test_a_steps_orders_in_several_strengths_are_all_written_each_naming_the_gp_authorisations(
    deliveries,
):
    """Step 1 is two orders (one per strength) replacing the GP's MR-MORPH: both are written (each its own
    idempotency key), each naming MR-MORPH in replaces-authorisation; step 2 replaces both step-1 orders,
    waits until they are written, then names both by the GP system's ids."""
    await enrol(deliveries)
    first = prescription_changed(1)
    new, old = first.data["entry"]
    second_order = json.loads(json.dumps(new)) | {"fullUrl": "MedicationRequest/mr-new-1b"}
    second_order["resource"]["id"] = "mr-new-1b"
    first.data["entry"] = [new, second_order, old]
    following = prescription_changed(2)
    order2, _ = following.data["entry"]
    ours = {"meta": {"tag": [{"system": MEDICATION_SOURCE, "code": "medreview"}]}, "status": "stopped"}
    order2["resource"]["priorPrescription"] = {"reference": "MedicationRequest/mr-new-1"}
    order2["resource"]["extension"] = [
        {"url": REPLACES_PRESCRIPTION_URL, "valueReference": {"reference": f"MedicationRequest/{i}"}}
        for i in ("mr-new-1", "mr-new-1b")
    ]
    following.data["entry"] = [
        order2,
        *({"fullUrl": e["fullUrl"], "resource": e["resource"] | ours} for e in (new, second_order)),
    ]
    deliveries.deliver_event(following)
    await deliveries.worker.run_once()
    assert not deliveries.gp.prescriptions  # step 2 waits for step 1's orders
    deliveries.deliver_event(first)
    await deliveries.drain()
    written = deliveries.gp.prescriptions
    one, two = written[f"{first.id}:prescription"], written[f"{first.id}:prescription:order-2"]
    assert [new_prescription(w)["id"] for w in (one, two)] == ["mr-new-1", "mr-new-1b"]
    assert _replaces(one) == _replaces(two) == ["MedicationRequest/MR-MORPH"]
    assert _replaces(written[f"{following.id}:prescription"]) == [
        f"MedicationRequest/P-{first.id}:prescription",
        f"MedicationRequest/P-{first.id}:prescription:order-2",
    ]


async def test_a_step_refused_after_its_first_order_was_written_is_dead_lettered_and_the_record_read(
    deliveries,
):
    """The GP system takes step 1's first order, then refuses the second for good: the delivery is a dead
    letter (never retried into a third state), and the record is read again and published, so medreview's
    reconciliation sees one of two authorisations and asks the practice to put it right."""
    await enrol(deliveries)
    event = prescription_changed(1)
    new, old = event.data["entry"]
    other = json.loads(json.dumps(new))
    other["resource"]["id"] = "mr-new-1b"
    event.data["entry"] = [new, other, old]
    deliveries.gp.failures.extend([None, PermanentDeliveryError("GP system refused the message: 422")])
    synced_before = len([e for e in deliveries.outbox_events() if e.type == "medication.list-synced.v1"])
    deliveries.deliver_event(event)
    await deliveries.drain()
    assert deliveries.states()[f"{event.id}:prescription"] == "dead"
    assert list(deliveries.gp.prescriptions) == [f"{event.id}:prescription"]  # only the first order
    synced = [e for e in deliveries.outbox_events() if e.type == "medication.list-synced.v1"]
    assert len(synced) == synced_before + 1


async def test_a_change_naming_nothing_it_replaces_is_refused_for_good(deliveries):
    await enrol(deliveries)
    event = prescription_changed(1)
    del event.data["entry"][0]["resource"]["priorPrescription"]
    deliveries.deliver_event(event)
    await deliveries.drain()
    assert deliveries.states()[f"{event.id}:prescription"] == "dead"
    assert not deliveries.gp.prescriptions


async def test_a_dated_change_is_written_on_its_date_and_a_task_reaches_the_gp_on_its_send_day(deliveries):
    """Nothing reaches the GP system early: the clock is moved on, nothing sleeps."""
    await enrol(deliveries)
    today = datetime.now(UTC).date()
    change = prescription_changed(1)
    change.data["entry"][0]["resource"]["dispenseRequest"] = {
        "validityPeriod": {"start": (today + timedelta(days=14)).isoformat()}
    }
    task = task_requested(
        "approve-taper-step", executionPeriod={"start": (today + timedelta(days=7)).isoformat()}
    )
    deliveries.deliver_event(change)
    deliveries.deliver_event(task)
    for _ in range(3):
        await deliveries.worker.run_once()
        deliveries.clock.advance(3600)
    assert not deliveries.gp.tasks and not deliveries.gp.prescriptions
    deliveries.clock.advance(7 * 86400)
    await deliveries.worker.run_once()
    assert len(deliveries.gp.tasks) == 1 and not deliveries.gp.prescriptions
    deliveries.clock.advance(7 * 86400)
    await deliveries.worker.run_once()
    assert len(deliveries.gp.prescriptions) == 1


# ---- sleeping when idle -------------------------------------------------------------------------------
async def test_with_nothing_to_deliver_the_worker_sleeps_its_idle_poll(deliveries):
    worker = deliveries.worker
    assert await worker.run_once() == 0
    assert worker.idle_wait() == worker.idle_poll_s


async def test_the_worker_sleeps_until_the_earliest_delivery_is_due(deliveries):
    await enrol(deliveries)
    deliveries.deliver_event(prescription_changed())
    deliveries.gp.failures.append(TIMEOUT)
    await deliveries.worker.run_once()  # failed once: rescheduled after its backoff
    [row] = [r for r in deliveries.rows() if r.kind == "prescription"]
    worker = deliveries.worker
    assert await worker.run_once() == 0  # not due yet
    due_in = (row.next_attempt_at.replace(tzinfo=UTC) - deliveries.clock.utc()).total_seconds()
    assert worker.poll_s <= worker.idle_wait() <= max(worker.poll_s, min(worker.idle_poll_s, due_in))
    deliveries.clock.advance(3600)  # an hour on: overdue
    assert worker.idle_wait() == worker.poll_s


async def test_a_delivery_added_in_this_process_wakes_the_sleeping_worker(deliveries):
    """Asleep for a minute (poll 60 s), the worker still delivers at once: the enqueueing transaction's
    connection, returned to the pool, wakes it."""
    worker = deliveries.worker
    worker.poll_s = worker.idle_poll_s = 60.0
    deliveries.gp.records["9990000018"] = load_fixture("gpc-structured-opioid-record.json")
    await worker.start()
    try:
        await asyncio.sleep(0.05)  # the first pass found nothing: asleep for 60 s
        deliveries.deliver_event(enrolled())
        await eventually_async(
            lambda: list(deliveries.states().values()) == ["done"],
            within=10,
            every=0.01,
            what="the delivery done",
        )
    finally:
        await worker.close()
