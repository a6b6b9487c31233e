"""NHS England's mesh-sandbox as a child process of ``pain-review up``, started as its package documents
(``uvicorn mesh_sandbox.api:app``) with a file store under ``./var/mesh``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["MeshSandbox"]


class MeshSandbox:
    def __init__(self, store: Path, *, host: str = "127.0.0.1", port: int = 8700) -> None:
        self.store, self.host, self.port = store, host, port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "STORE_MODE": "file",
            "MAILBOXES_DATA_DIR": str(self.store.resolve()),
            "AUTH_MODE": "full",
            "SHARED_KEY": os.environ.get("MESH_SHARED_KEY", "TestKey"),
        }
        log = (self.store / "mesh-sandbox.log").open("ab")
        uvicorn = [
            sys.executable,
            "-m",
            "uvicorn",
            "mesh_sandbox.api:app",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        self._process = subprocess.Popen(uvicorn, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mesh-sandbox exited with {self._process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError(f"mesh-sandbox did not become healthy on {self.url}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._process = None
