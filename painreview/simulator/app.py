"""The GP practice simulator: its own FastAPI app (``create_simulator_app``).

Besides the GP system API (``gp_api.py``), it serves what a test or a person uses: the approval inbox
(``/practices/{ods}/inbox``, approve or decline), the patients and their current medicines, the
prescription changes applied, and ``/admin/faults`` to make the GP system fail on purpose.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from painreview.simulator.gp_api import gp_api_router
from painreview.simulator.guard import MAX_BODY_BYTES, SimulatorGuard
from painreview.simulator.population import SimPatient
from painreview.simulator.state import Faults, PracticeState, Simulator
from shared.web.clock import clock_for, system_clock

__all__ = ["SimulatorSettings", "create_simulator_app"]


class SimulatorSettings(BaseSettings):
    """``GPSIM_*``: which practices, how many patients each, the seed that makes them; ``token``, the
    bearer token every route but the health probes needs (``guard.py``). A development tool: refused when
    ``environment`` is ``production``."""

    model_config = SettingsConfigDict(env_prefix="GPSIM_", extra="ignore")

    practices: str = "A81001,A81002"
    patients_per_practice: int = Field(default=3000, ge=1, le=100_000)
    seed: int = 1
    token: SecretStr | None = None
    max_body_bytes: int = Field(default=MAX_BODY_BYTES, ge=1024)
    environment: str = "development"
    clock_file: Path | None = None
    """Tests only: a file holding the instant the GP system's clock runs from (``shared.web.clock``)."""

    def practice_codes(self) -> tuple[str, ...]:
        return tuple(p.strip().upper() for p in self.practices.replace(" ", ",").split(",") if p.strip())


class FaultsIn(BaseModel):
    error_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    slow_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_s: float = Field(default=10.0, ge=0, le=120)
    slow_s: float = Field(default=1.0, ge=0, le=60)
    poison_nhs_numbers: list[str] = Field(default_factory=list)


class Decision(BaseModel):
    reason: str | None = None
    by: str = "Dr Simulated GP"


def _patient_json(patient: SimPatient) -> dict[str, Any]:
    return {
        "nhsNumber": patient.nhs_number,
        "name": f"{patient.given} {patient.family}",
        "gender": patient.gender,
        "birthDate": patient.birth_date.isoformat(),
        "group": patient.group,
        "conditions": [{"code": c, "display": d} for c, d in patient.conditions],
        "medications": [
            {
                "authorisationId": m.id,
                "medicine": m.regimen.name,
                "group": m.regimen.group,
                "dmdCode": m.regimen.dmd_code or None,
                "dosage": m.dosage,
                "status": m.status,
                "replaces": m.prior_id,
                "changeGroup": m.change_group,
                "start": m.start.isoformat(),
            }
            for m in patient.medications
        ],
    }


def create_simulator_app(settings: SimulatorSettings | None = None, *, today: date | None = None) -> FastAPI:
    """A GP practice simulator for ``settings.practices`` (default A81001, A81002; 3,000 patients each),
    behind its token (``settings.token``, required) and body limit."""
    settings = settings or SimulatorSettings()
    if settings.environment == "production":
        raise ValueError("The GP practice simulator is for development and tests, not production")
    if settings.token is None:
        raise ValueError("The GP practice simulator needs its own token: set GPSIM_TOKEN")
    clock = clock_for(settings.clock_file, settings.environment) if settings.clock_file else None
    sim = Simulator(
        settings.practice_codes(),
        seed=settings.seed,
        size=settings.patients_per_practice,
        today=today or (clock or system_clock)().date(),
        clock=clock,
    )
    app = FastAPI(title="GP practice simulator", version="0.1.0", description=__doc__)
    app.add_middleware(
        SimulatorGuard, token=settings.token.get_secret_value(), max_body_bytes=settings.max_body_bytes
    )
    app.state.simulator = sim
    app.include_router(gp_api_router(sim))

    def practice(ods: str) -> PracticeState:
        try:
            return sim.practice(ods)
        except KeyError:
            raise HTTPException(404, "no such practice") from None

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "practices": {ods: len(p.patients) for ods, p in sim.practices.items()}}

    @app.get("/practices/{ods}/patients", tags=["practice"], summary="Patients, filtered by group")
    async def patients(ods: str, group: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        chosen = [p for p in practice(ods).patients.values() if group is None or p.group == group]
        return [_patient_json(p) for p in chosen[: max(0, min(limit, 5000))]]

    @app.get("/practices/{ods}/patients/{nhs_number}", tags=["practice"], summary="One patient's medicines")
    async def patient(ods: str, nhs_number: str) -> dict[str, Any]:
        found = practice(ods).patients.get(nhs_number)
        if found is None:
            raise HTTPException(404, "no such patient")
        return _patient_json(found)

    @app.get("/practices/{ods}/inbox", tags=["approval inbox"], summary="Tasks awaiting the GP's decision")
    async def inbox(ods: str, all: bool = False) -> list[dict[str, Any]]:
        tasks = practice(ods).tasks.values()
        return [t.summary() for t in tasks if all or (t.needs_decision and t.status == "requested")]

    @app.post("/practices/{ods}/inbox/{task_id}/approve", tags=["approval inbox"])
    async def approve(ods: str, task_id: str, decision: Decision | None = None) -> dict[str, Any]:
        decision = decision or Decision()
        state = practice(ods)
        if task_id not in state.tasks:
            raise HTTPException(404, "no such task")
        return state.decide(task_id, approve=True, note=decision.reason, by=decision.by).summary()

    @app.post("/practices/{ods}/inbox/{task_id}/decline", tags=["approval inbox"])
    async def decline(ods: str, task_id: str, decision: Decision) -> dict[str, Any]:
        state = practice(ods)
        if task_id not in state.tasks:
            raise HTTPException(404, "no such task")
        return state.decide(
            task_id, approve=False, note=decision.reason or "Declined", by=decision.by
        ).summary()

    @app.get(
        "/practices/{ods}/prescription-changes", tags=["practice"], summary="Changes applied, and how often"
    )
    async def changes(ods: str) -> dict[str, Any]:
        state = practice(ods)
        duplicates = {ref: n for ref, n in state.applications.items() if n > 1}
        return {"applied": len(state.changes), "duplicates": duplicates, "changes": state.changes[-200:]}

    @app.get("/practices/{ods}/bars-messages", tags=["practice"], summary="BaRS responses received")
    async def bars_messages(ods: str) -> list[dict[str, Any]]:
        return list(practice(ods).bars_messages.values())

    @app.get("/admin/faults", tags=["admin"])
    async def get_faults() -> dict[str, Any]:
        return sim.faults.as_json()

    @app.put("/admin/faults", tags=["admin"], summary="Make the GP system API fail on purpose")
    async def put_faults(faults: FaultsIn) -> dict[str, Any]:
        if faults.error_rate + faults.timeout_rate + faults.slow_rate > 1:
            raise HTTPException(422, "the rates add up to more than 1")
        sim.faults = Faults(
            faults.error_rate,
            faults.timeout_rate,
            faults.slow_rate,
            faults.timeout_s,
            faults.slow_s,
            set(faults.poison_nhs_numbers),
        )
        return sim.faults.as_json()

    @app.get("/admin/stats", tags=["admin"])
    async def stats() -> dict[str, Any]:
        return dict(sim.stats)

    return app
