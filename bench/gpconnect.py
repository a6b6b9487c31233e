"""The GP write-back fault run: N patients' GP-approved prescription changes delivered by the real
delivery worker over real HTTP to the GP practice simulator while it fails 30% of calls and times out
10% (half of those after applying the change). Every change must be applied exactly once, and the only
dead letters must be the ones poisoned on purpose.

    python -m bench gpconnect                 # N=500 (GP_FAULT_RUN_N), writes bench/results-gpconnect.json

The integration tier runs the same function with a small N (tests/integration/gpconnect).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn
from pydantic import SecretStr

from painreview.simulator import SimulatorSettings, create_simulator_app
from services.gpconnect import repository
from services.gpconnect.app import MIGRATIONS
from services.gpconnect.consumers import on_prescription_changed
from services.gpconnect.delivery.adapters import FakeDocumentChannel, default_guard
from services.gpconnect.delivery.credentials import SECRET_ENV_PREFIX
from services.gpconnect.delivery.dispatch import Dispatcher
from services.gpconnect.domain.delivery_policy import CircuitBreaker, RetryPolicy
from services.gpconnect.domain.practices import PracticeConfig
from services.gpconnect.tables import delivery
from shared.contracts import PRESCRIPTION_CHANGED_V1, new_event
from shared.db import make_engine, migrate
from shared.fhir import FhirKernel
from shared.outbox import dead_letter
from shared.outbox.tables import utcnow

__all__ = ["fault_run", "main"]

PRACTICES = {"A81001": "gpconnect-fhir", "A81002": "emis-style"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The simulator's own token, given to the worker as the practices' credentials (its secret store).
SIMULATOR_REF = "BENCH_GP_SIMULATOR"


@contextmanager
def running_simulator(patients_per_practice: int) -> Iterator[tuple[str, Any]]:
    """The simulator served by uvicorn on a free loopback port, in a thread, behind its token."""
    token = secrets.token_urlsafe(24)
    settings = SimulatorSettings(
        practices=",".join(PRACTICES), patients_per_practice=patients_per_practice, token=SecretStr(token)
    )
    app = create_simulator_app(settings)
    os.environ[f"{SECRET_ENV_PREFIX}{SIMULATOR_REF}"] = token
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("the simulator did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app.state.simulator
    finally:
        os.environ.pop(f"{SECRET_ENV_PREFIX}{SIMULATOR_REF}", None)
        server.should_exit = True
        thread.join(timeout=15)


def _change_event(n: int, ods: str, patient_id: str, prior: Any) -> Any:
    new = {
        "resourceType": "MedicationRequest",
        "id": f"rx-change-{n}",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://snomed.info/sct", "code": prior.regimen.dmd_code}],
            "text": prior.regimen.name,
        },
        "dosageInstruction": [{"text": "Reduced dose, step 1 of the agreed taper"}],
        "priorPrescription": {"reference": f"MedicationRequest/{prior.id}"},
    }
    replaced = {**new, "id": prior.id, "status": "stopped", "intent": "plan"}
    replaced.pop("priorPrescription")
    data = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"MedicationRequest/{new['id']}", "resource": new},
            {"fullUrl": f"MedicationRequest/{prior.id}", "resource": replaced},
        ],
    }
    return new_event(
        PRESCRIPTION_CHANGED_V1,
        source="/painreview/medreview",
        subject=f"MedicationRequest/{new['id']}",
        practice=ods,
        data=data,
    )


async def _deliver_all(engine: sa.Engine, base: str, timeout_s: float, deadline_s: float) -> int:
    from services.gpconnect.delivery.worker import DeliveryWorker

    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=1.0)) as client:
        dispatcher = Dispatcher(
            engine,
            client,
            default_guard(True),
            FakeDocumentChannel(),
            workflow_id="BENCH",
            source="/painreview/gpconnect",
            now=utcnow,
        )
        worker = DeliveryWorker(
            engine,
            dispatcher,
            # A delivery attempt makes two or more GP calls (the write, then the read-back), each failing
            # 40% of the time here, so an attempt fails with p >= 1 - 0.6**2 = 0.64, and more where the
            # read takes several calls. With 15 tries a healthy change was dead-lettered in about 1 run
            # of 5 (CI, 2026-12-04); with 60, even at p = 0.784 (three calls) it is 0.784**60 = 4.6e-7
            # per change: under 1 run in 4,000 at N=500. Budgets here are the test's, not production's.
            policy=RetryPolicy(max_attempts=60, base_seconds=0.05, cap_seconds=1.0),
            breaker=lambda: CircuitBreaker(failure_threshold=8, open_seconds=0.5),
            concurrency=32,
            poll_s=0.05,
            rng=random.Random(5),
        )
        passes, started = 0, time.monotonic()
        while time.monotonic() - started < deadline_s:
            passes += 1
            worked = await worker.run_once()
            with engine.connect() as conn:
                open_ = conn.execute(
                    sa.select(sa.func.count()).where(delivery.c.state == "pending")
                ).scalar_one()
            if not open_:
                break
            if not worked:
                await asyncio.sleep(0.05)
        return passes


def fault_run(
    n: int,
    *,
    error_rate: float = 0.3,
    timeout_rate: float = 0.1,
    poisoned: int = 2,
    client_timeout_s: float = 0.5,
    deadline_s: float = 600.0,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Deliver ``n`` prescription changes through faults; returns the figures and what went wrong."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="gp-fault-run-"))
    engine = make_engine(f"sqlite:///{workdir / 'gpconnect.db'}")
    migrate(MIGRATIONS, engine)
    per_practice = max(200, n * 2)
    with running_simulator(per_practice) as (base, sim):
        chosen = []
        with engine.begin() as conn:
            for ods, supplier in PRACTICES.items():
                # The simulator is on loopback: registered as a private endpoint, as an operator would.
                config = PracticeConfig(
                    ods,
                    supplier,
                    f"{base}/practices/{ods}",
                    credentials_ref=SIMULATOR_REF,
                    allow_private=True,
                )
                repository.upsert_practice(conn, config)
            apply = FhirKernel("gpconnect", engine, authenticator=None).consumer(on_prescription_changed)  # type: ignore[arg-type]
            cohorts = {
                ods: [p for p in sim.practice(ods).patients.values() if p.group == "cohort" and p.opioids]
                for ods in PRACTICES
            }
            for i in range(n):
                ods = list(PRACTICES)[i % 2]
                patient = cohorts[ods][i // 2]
                repository.remember_patient(conn, ods, f"patient-{i}", patient.nhs_number)
                apply(conn, _change_event(i, ods, f"patient-{i}", patient.opioids[0]))
                chosen.append((ods, patient.nhs_number, f"rx-change-{i}"))
        poison = {nhs for _, nhs, _ in chosen[:poisoned]}
        from painreview.simulator.state import Faults

        sim.faults = Faults(error_rate, timeout_rate, 0.0, client_timeout_s * 2, 0.0, poison)
        started = time.monotonic()
        passes = asyncio.run(_deliver_all(engine, base, client_timeout_s, deadline_s))
        elapsed = time.monotonic() - started
        applications = {
            ref: count for state in sim.practices.values() for ref, count in state.applications.items()
        }
        stats = dict(sim.stats)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(delivery.c.state, delivery.c.attempts, delivery.c.event_id)).all()
        letters = conn.execute(sa.select(dead_letter.c.event_id)).all()
    engine.dispose()
    expected = {ref for _, nhs, ref in chosen if nhs not in poison}
    return {
        "n": n,
        "error_rate": error_rate,
        "timeout_rate": timeout_rate,
        "seconds": round(elapsed, 1),
        "worker_passes": passes,
        "states": {s: sum(1 for r in rows if r.state == s) for s in ("done", "pending", "dead")},
        "attempts_total": sum(r.attempts for r in rows),
        "applied_exactly_once": sum(1 for ref in expected if applications.get(ref) == 1),
        "missing": sorted(ref for ref in expected if ref not in applications),
        "duplicated": sorted(ref for ref, count in applications.items() if count > 1),
        "applied_for_poisoned": sorted(
            ref for _, nhs, ref in chosen if nhs in poison and ref in applications
        ),
        "dead_letters": len(letters),
        "poisoned": len(poison),
        "simulator": stats,
    }


def main() -> None:
    n = int(os.environ.get("GP_FAULT_RUN_N", "500"))
    result = fault_run(n)
    for key in (
        "n",
        "seconds",
        "states",
        "attempts_total",
        "applied_exactly_once",
        "duplicated",
        "dead_letters",
        "poisoned",
        "simulator",
    ):
        print(f"{key:>22}: {result[key]}")
    Path(__file__).with_name("results-gpconnect.json").write_text(json.dumps(result, indent=2) + "\n")
