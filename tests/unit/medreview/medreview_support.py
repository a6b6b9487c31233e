"""Handler tests' fakes: a SQLite database with the kernel and outbox tables, units of work as the kernel
builds them for a request and for the inbox, synthetic events and the outbox read back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import Engine

from services.medreview.fhir_mapping import StepRecord, step_references, steps_of
from services.medreview.repository import MedreviewRepository, medreview_search_params
from shared.contracts import EventType, new_event
from shared.core.principal import Principal, Tenancy, parse_scopes
from shared.db import make_engine
from shared.fhir import FhirKernel, RequestContext, ResourceStore, UnitOfWork, kernel_metadata
from shared.outbox import metadata as outbox_metadata
from shared.outbox import outbox
from tests.support.auth import HeaderAuthenticator

T = TypeVar("T")
PRACTICE = "A81001"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"


def database(url: str) -> Engine:
    engine = make_engine(url)
    kernel_metadata.create_all(engine)
    outbox_metadata.create_all(engine)
    return engine


class Harness:
    """One medreview database; ``api`` and ``consume`` run work as a request or a consumed event would."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        store = ResourceStore(search_params=medreview_search_params())
        self.kernel = FhirKernel("medreview", engine, HeaderAuthenticator(), store=store, clock=lambda: NOW)
        self.repo = MedreviewRepository(store)

    def api(self, work: Callable[[UnitOfWork], T], *, practice: str = PRACTICE, now: datetime = NOW) -> T:
        principal = Principal("gp-test", practice, "gp-system", parse_scopes("system/*.cruds"))
        ctx = RequestContext(principal, "req-1", "corr-1", "medreview", False)
        with self.engine.begin() as conn:
            return work(UnitOfWork(self.kernel, conn, ctx, now=now))

    def consume(
        self,
        handler: Callable[[UnitOfWork, Any], None],
        event_type: EventType,
        data: dict[str, Any],
        *,
        practice: str = PRACTICE,
        time: datetime = NOW,
        subject: str = "Bundle/b1",
    ) -> None:
        event = new_event(
            event_type, source="/painreview/test", subject=subject, practice=practice, data=data, time=time
        )
        with self.engine.begin() as conn:
            uow = UnitOfWork.for_event(self.kernel, conn, event)
            uow.now = time
            handler(uow, event)

    def read(self, reference: str, practice: str = PRACTICE) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return self.repo.read(conn, reference, Tenancy({practice}))

    def search(
        self, resource_type: str, *params: tuple[str, str], practice: str = PRACTICE
    ) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return self.repo.search(conn, resource_type, params, Tenancy({practice}))

    def steps(self, careplan: dict[str, Any], practice: str = PRACTICE) -> list[StepRecord]:
        """The plan's steps, read with their MedicationRequests as stored now."""
        with self.engine.connect() as conn:
            tenants = Tenancy({practice})
            requests = {ref: self.repo.read(conn, ref, tenants) for ref in step_references(careplan)}
        return steps_of(careplan, requests)

    def events(self, *types: str) -> list[tuple[str, dict[str, Any]]]:
        """(type, data) of every outbox event so far, oldest first; only ``types`` when given."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(outbox.c.type, outbox.c.payload).order_by(outbox.c.sequence)).all()
        found = [(str(r.type), orjson.loads(r.payload)["data"]) for r in rows]
        return [f for f in found if not types or f[0] in types]

    @contextmanager
    def connection(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            yield conn


def medicine(
    id_: str,
    name: str,
    dosage: str,
    *,
    patient: str = "p1",
    kind: str = "MedicationRequest",
    code: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": name}
    if code:
        concept["coding"] = [{"system": "https://dmd.nhs.uk", "code": code, "display": name}]
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": id_,
        "status": "active",
        "subject": {"reference": f"Patient/{patient}"},
        "medicationCodeableConcept": concept,
        ("dosage" if kind == "MedicationStatement" else "dosageInstruction"): [{"text": dosage}],
        **extra,
    }
    if kind == "MedicationRequest":
        resource.setdefault("intent", "plan")
    return resource


def patient_bundle(
    patient: str, *resources: dict[str, Any], nhs_number: str = "9990000018"
) -> dict[str, Any]:
    """A ``medication.list-synced`` / ``patient.enrolled``-shaped Bundle: the Patient, then the resources."""
    person = {
        "resourceType": "Patient",
        "id": patient,
        "identifier": [{"system": NHS_NUMBER, "value": nhs_number}],
    }
    entries = [{"fullUrl": f"Patient/{patient}", "resource": person}]
    entries += [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def withdrawal_score(patient: str, score: int, effective: str = "2026-03-20") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"sows-{patient}-{score}",
        "status": "final",
        "code": {
            "coding": [
                {
                    "system": "https://pain-review.example.org/fhir/CodeSystem/medreview-observation",
                    "code": "sows-total",
                }
            ]
        },
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": effective,
        "valueInteger": score,
    }
