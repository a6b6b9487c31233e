"""The GP practice simulator as the composition root serves it: mounted at ``/gp-simulator`` by
``pain-review up``, alone with ``pain-review serve gp-simulator``. Configured by ``GPSIM_*``."""

from __future__ import annotations

from fastapi import FastAPI

from services.gpconnect.simulator import SimulatorSettings, create_simulator_app

__all__ = ["SIMULATOR_MOUNT", "create_simulator_app", "simulator_url"]

SIMULATOR_MOUNT = "/gp-simulator"


def simulator_url(host: str, port: int) -> str:
    """Where gpconnect reaches the simulator mounted in the embedded process (``GPCONNECT_SIMULATOR_URL``)."""
    return f"http://{host}:{port}{SIMULATOR_MOUNT}"


def standalone_simulator_app() -> FastAPI:
    return create_simulator_app(SimulatorSettings())
