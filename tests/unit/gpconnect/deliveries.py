"""A gpconnect database, a controllable clock and a fake GP system behind the real worker (unit tier)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine

from services.gpconnect import consumers, repository
from services.gpconnect.app import MIGRATIONS
from services.gpconnect.delivery.adapters import FakeGpSystem
from services.gpconnect.delivery.dispatch import Dispatcher
from services.gpconnect.delivery.worker import DeliveryWorker
from services.gpconnect.domain.deliveries import TASK_TYPES
from services.gpconnect.domain.delivery_policy import CircuitBreaker, RetryPolicy
from services.gpconnect.domain.practices import PracticeConfig
from services.gpconnect.tables import delivery
from shared.contracts import (
    GP_TASK_REQUESTED_V1,
    PATIENT_ENROLLED_V1,
    PRESCRIPTION_CHANGED_V1,
    CloudEvent,
    new_event,
)
from shared.db import make_engine, migrate
from shared.fhir import ConsumerHandler
from shared.outbox import dead_letter, outbox
from tests.support.clock import Clock
from tests.support.kernel import build_kernel
from tests.unit.gpconnect.records import load_fixture

PRACTICE = "A81001"


@dataclass
class Harness:
    engine: Engine
    gp: FakeGpSystem
    clock: Clock
    worker: DeliveryWorker

    def deliver_event(self, event: CloudEvent) -> None:
        handler = {
            PATIENT_ENROLLED_V1.type: consumers.on_patient_enrolled,
            GP_TASK_REQUESTED_V1.type: consumers.on_task_requested,
            PRESCRIPTION_CHANGED_V1.type: consumers.on_prescription_changed,
        }[event.type]
        self.consume(handler, event)

    def consume(self, handler: ConsumerHandler, event: CloudEvent) -> None:
        """``handler(event, uow)`` as the inbox runs it: through the kernel, in one transaction."""
        kernel = build_kernel(self.engine, "gpconnect", ())
        with self.engine.begin() as conn:
            kernel.consumer(handler)(conn, event)

    async def drain(self, *, max_passes: int = 200, step: float = 1.0) -> None:
        """Run the worker, moving the clock on, until nothing is due any more (or awaiting)."""
        for _ in range(max_passes):
            await self.worker.run_once()
            self.clock.advance(step)
            with self.engine.connect() as conn:
                open_ = conn.execute(
                    sa.select(sa.func.count()).where(delivery.c.state.in_(("pending",)))
                ).scalar_one()
            if not open_:
                return

    def states(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.idempotency_key: r.state for r in conn.execute(sa.select(delivery))}

    def rows(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(delivery).order_by(delivery.c.id)))

    def dead_letters(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(dead_letter)))

    def outbox_types(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r.type for r in conn.execute(sa.select(outbox).order_by(outbox.c.sequence))]

    def outbox_events(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(outbox).order_by(outbox.c.sequence)))


def harness(
    tmp_path: Path, *, max_attempts: int = 4, breaker_threshold: int = 100, open_s: float = 10.0
) -> Iterator[Harness]:
    engine = make_engine(f"sqlite:///{tmp_path / 'gpconnect.db'}")
    migrate(MIGRATIONS, engine)
    gp = FakeGpSystem(records={"9990000018": load_fixture("gpc-structured-opioid-record.json")})
    clock = Clock(start=None)  # the real time: rows are enqueued at the real time
    with engine.begin() as conn:
        repository.upsert_practice(
            conn,
            PracticeConfig(PRACTICE, "gpconnect-fhir", "https://gp.example/fhir", mesh_mailbox="X26ABC2"),
        )
    dispatcher = Dispatcher(
        engine,
        httpx.AsyncClient(),
        lambda url, practice: None,
        gp.documents,
        workflow_id="TEST",
        source="/painreview/gpconnect",
        now=clock.utc,
        adapters=lambda *args: gp,
    )
    worker = DeliveryWorker(
        engine,
        dispatcher,
        policy=RetryPolicy(max_attempts=max_attempts, base_seconds=0.5, cap_seconds=4.0),
        breaker=lambda: CircuitBreaker(breaker_threshold, open_s),
        rng=random.Random(1),
        now=clock.utc,
        decision_poll_s=2.0,
    )
    yield Harness(engine, gp, clock, worker)
    engine.dispose()


def patient(patient_id: str = "pat-1", nhs: str = "9990000018") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}],
    }


def enrolled(patient_id: str = "pat-1", nhs: str = "9990000018") -> CloudEvent:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "EpisodeOfCare/e1",
                "resource": {"resourceType": "EpisodeOfCare", "id": "e1", "status": "active"},
            },
            {"fullUrl": f"Patient/{patient_id}", "resource": patient(patient_id, nhs)},
        ],
    }
    return new_event(
        PATIENT_ENROLLED_V1,
        source="/painreview/referral",
        subject="EpisodeOfCare/e1",
        practice=PRACTICE,
        data=bundle,
    )


def task_requested(code: str = "approve-taper-step", patient_id: str = "pat-1", **extra: Any) -> CloudEvent:
    task = {
        "resourceType": "Task",
        "id": f"task-{code}",
        "identifier": [{"system": "https://pain-review.example.org/fhir/Id/task", "value": f"task-{code}"}],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_TYPES, "code": code}]},
        "for": {"reference": f"Patient/{patient_id}"},
        "owner": {
            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": PRACTICE}
        },
        "description": "Please approve step 1 of the agreed dose reduction",
        "input": [{"type": {"text": "summary"}, "valueString": "Morphine MR 30 mg twice a day to 25 mg"}],
        **extra,
    }
    return new_event(
        GP_TASK_REQUESTED_V1,
        source="/painreview/medreview",
        subject=f"Task/{task['id']}",
        practice=PRACTICE,
        data=task,
    )


def prescription_changed(n: int = 1, patient_id: str = "pat-1") -> CloudEvent:
    new = {
        "resourceType": "MedicationRequest",
        "id": f"mr-new-{n}",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://snomed.info/sct", "code": "36126511000001106"}],
            "text": "Morphine 10mg modified-release tablets",
        },
        "dosageInstruction": [{"text": "Two tablets twice a day"}],
        "priorPrescription": {"reference": "MedicationRequest/MR-MORPH"},
    }
    old = {
        "resourceType": "MedicationRequest",
        "id": "MR-MORPH",
        "status": "stopped",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": new["medicationCodeableConcept"],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "MedicationRequest/mr-new", "resource": new},
            {"fullUrl": "MedicationRequest/MR-MORPH", "resource": old},
        ],
    }
    return new_event(
        PRESCRIPTION_CHANGED_V1,
        source="/painreview/medreview",
        subject=f"MedicationRequest/mr-new-{n}",
        practice=PRACTICE,
        data=bundle,
    )
