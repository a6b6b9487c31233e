"""Start the real system as a subprocess, the way a user runs it, and drive it over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.db import sqlite_path_for
from tests.e2e.audit_count import SERVICES, TALLY, check_audit_trail
from tests.e2e.crash_load import FIGURES

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy in {timeout} s")


@dataclass
class RunningSystem:
    base: str
    workdir: Path

    def token(self, practice: str = "A81001", scope: str = "system/*.cruds", role: str = "gp-system") -> str:
        result = subprocess.run(
            [str(BIN / "pain-review"), "token", "--practice", practice, "--scope", scope, "--role", role],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return result.stdout.strip().splitlines()[-1]


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
        assert _listening(mesh_port), "pain-review up did not start its mesh-sandbox"
        yield RunningSystem(f"http://127.0.0.1:{port}", workdir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    # SIGTERM (as from compose or a terminal) stops the mesh-sandbox child too: none is left behind.
    assert not _listening(mesh_port), "pain-review up left its mesh-sandbox running after SIGTERM"
    check_embedded_audit_trail("embedded system", workdir)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def check_embedded_audit_trail(system: str, workdir: Path) -> None:
    """Every audited request to ``pain-review up`` in ``workdir`` has its AuditEvent (see audit_count.py)."""
    databases = {service: sqlite_path_for(workdir / "var", service) for service in SERVICES}
    check_audit_trail(system, [workdir / "server.log"], databases)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in FIGURES:
        terminalreporter.write_line(line)
    if TALLY.systems:
        terminalreporter.write_sep("-", TALLY.summary())
        for line in TALLY.systems:
            terminalreporter.write_line(f"  {line}")
