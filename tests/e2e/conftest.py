"""Start the real system as a subprocess, the way a user runs it, and drive it over HTTP."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.audit_count import TALLY
from tests.e2e.crash_load import FIGURES
from tests.e2e.production import ProductionStack, production_stack
from tests.e2e.running import (
    BIN,
    CLOCK,
    RunningSystem,
    check_embedded_audit_trail,
    free_port,
    listening,
    stop,
    wait_healthy,
)


@pytest.fixture(scope="session")
def embedded_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    workdir = tmp_path_factory.mktemp("embedded")
    port, mesh_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAINREVIEW_", "REFERRAL_", "CAREPLAN_"))}
    env.pop("GPCONNECT_MESH_URL", None)  # `up` starts its own mesh-sandbox, as on a user's machine
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [
            *(str(BIN / "pain-review"), "up", "--host", "127.0.0.1", "--port", str(port)),
            *("--mesh-port", str(mesh_port)),
        ],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        assert listening(mesh_port), "pain-review up did not start its mesh-sandbox"
        yield RunningSystem(f"http://127.0.0.1:{port}", workdir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    # SIGTERM (as from compose or a terminal) stops the mesh-sandbox child too: none is left behind.
    assert not listening(mesh_port), "pain-review up left its mesh-sandbox running after SIGTERM"
    check_embedded_audit_trail("embedded system", workdir)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in FIGURES:
        terminalreporter.write_line(line)
    if TALLY.systems:
        terminalreporter.write_sep("-", TALLY.summary())
        for line in TALLY.systems:
            terminalreporter.write_line(f"  {line}")


@pytest.fixture(scope="module")
def mesh_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """mesh-sandbox started as its package documents: uvicorn mesh_sandbox.api:app."""
    store = tmp_path_factory.mktemp("mesh")
    port = free_port()
    env = {
        **os.environ,
        "STORE_MODE": "file",
        "MAILBOXES_DATA_DIR": str(store),
        "AUTH_MODE": "full",
        "SHARED_KEY": "TestKey",
    }
    log = (store / "mesh.log").open("wb")
    process = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "mesh_sandbox.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        log.close()


@pytest.fixture(scope="module")
def pathway_system(tmp_path_factory: pytest.TempPathFactory, mesh_sandbox: str) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("pathway")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PAINREVIEW_", "REFERRAL_", "CAREPLAN_", "MEDREVIEW_", "GPCONNECT_", "GPSIM_"))
    }
    env.update(
        {
            "GPCONNECT_SIMULATOR_URL": f"{base}/gp-simulator",
            "GPCONNECT_MESH_URL": mesh_sandbox,
            "GPCONNECT_DECISION_POLL_S": "0.5",
            "GPSIM_PATIENTS_PER_PRACTICE": "300",
            # one movable clock for the services that date things (tests/e2e/dated_steps.py moves it)
            **{f"{p}_CLOCK_FILE": str(workdir / CLOCK) for p in ("MEDREVIEW", "GPCONNECT", "GPSIM")},
        }
    )
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "pain-review"), "up", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"{base}/healthz", process)
        yield base, workdir
    finally:
        stop(process)
        log.close()
    check_embedded_audit_trail("embedded pathway", workdir)


@pytest.fixture(scope="module")
def stack(
    pg_admin_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProductionStack]:
    workdir = tmp_path_factory.mktemp("production")
    with production_stack(pg_admin_url, nats_url, workdir, clock_file=workdir / "clock.txt") as running:
        yield running
