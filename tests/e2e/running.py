"""What the end-to-end tests share (the fixtures that start systems are in ``conftest.py``): a free
port, waiting for a process to be healthy, a running system's tokens, and its audit trail's check."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared.db import sqlite_path_for
from tests.e2e.audit_count import SERVICES, check_audit_trail
from tests.support import eventually

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    eventually(healthy, within=timeout, every=0.2, what=f"{url} healthy")


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


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def check_embedded_audit_trail(system: str, workdir: Path) -> None:
    """Every audited request to ``pain-review up`` in ``workdir`` has its AuditEvent (see audit_count.py)."""
    databases = {service: sqlite_path_for(workdir / "var", service) for service in SERVICES}
    check_audit_trail(system, [workdir / "server.log"], databases)


CLOCK = "clock.txt"


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
