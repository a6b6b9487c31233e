"""The GP practice simulator as the composition root serves it: mounted at ``/gp-simulator`` by
``pain-review up``, alone with ``pain-review serve gp-simulator``. Configured by ``GPSIM_*``; never in
production (``GPSIM_ENVIRONMENT`` or ``GPCONNECT_ENVIRONMENT`` = ``production``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr

from painreview.simulator import SimulatorSettings, create_simulator_app
from services.gpconnect.delivery.credentials import SECRET_ENV_PREFIX

__all__ = [
    "SIMULATOR_CREDENTIALS_REF",
    "SIMULATOR_MOUNT",
    "TOKEN_FILE",
    "create_simulator_app",
    "simulator_allowed",
    "simulator_token",
    "simulator_url",
]

SIMULATOR_MOUNT = "/gp-simulator"
TOKEN_FILE = "gp-simulator.token"  # noqa: S105 (a file name, not a secret)
SIMULATOR_CREDENTIALS_REF = "GP_SIMULATOR"
"""The simulated practices' credentials in gpconnect's secret store: ``GPCONNECT_SECRET_GP_SIMULATOR``."""


def simulator_allowed() -> bool:
    """The simulator is a development tool: not mounted or served when either side says production."""
    return "production" not in {os.environ.get("GPSIM_ENVIRONMENT"), os.environ.get("GPCONNECT_ENVIRONMENT")}


def simulator_token(var_dir: Path) -> str:
    """``GPSIM_TOKEN``; else the one kept in ``<var>/gp-simulator.token``; else a new one, written there
    readable by its owner only (the demo and ``pain-review simulator`` read it from there)."""
    if token := os.environ.get("GPSIM_TOKEN"):
        return token
    path = var_dir / TOKEN_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    token = secrets.token_urlsafe(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token


def embedded_simulator_app(var_dir: Path) -> FastAPI:
    """The simulator mounted beside the services, with gpconnect given its token as the simulated
    practices' credentials."""
    token = simulator_token(var_dir)
    os.environ.setdefault(f"{SECRET_ENV_PREFIX}{SIMULATOR_CREDENTIALS_REF}", token)
    return create_simulator_app(SimulatorSettings(token=SecretStr(token)))


def simulator_url(host: str, port: int) -> str:
    """Where gpconnect reaches the simulator mounted in the embedded process (``GPCONNECT_SIMULATOR_URL``)."""
    return f"http://{host}:{port}{SIMULATOR_MOUNT}"


def standalone_simulator_app() -> FastAPI:
    """``pain-review serve gp-simulator``: ``GPSIM_TOKEN`` is required (and production refused)."""
    if not simulator_allowed():
        raise ValueError("The GP practice simulator is not served in production")
    return create_simulator_app(SimulatorSettings())
