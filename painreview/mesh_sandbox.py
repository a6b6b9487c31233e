"""NHS England's mesh-sandbox as a child process of ``pain-review up``, started as its package documents
(``uvicorn mesh_sandbox.api:app``) with a file store under ``./var/mesh``.

``up`` owns it: ``up`` binds the port itself and hands the listening socket to the child
(``uvicorn --fd``), so the ``/health`` it waits for can only be its own child's, and a port another
process holds is refused, never used silently. On Linux the child is told to die with ``up``
(``PR_SET_PDEATHSIG``), so a ``kill -9`` of ``up`` leaves no sandbox behind; as a second guard the
child's pid is kept in ``mesh-sandbox.pid`` and the next ``up`` on the same folder stops an orphan it
finds there (checked by its command line in ``/proc``, so a recycled pid is left alone).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

__all__ = ["MeshPortTaken", "MeshSandbox"]

_COMMAND = "mesh_sandbox.api:app"
_PR_SET_PDEATHSIG = 1


class MeshPortTaken(RuntimeError):
    """The MESH port is held by a process ``up`` did not start."""


class MeshSandbox:
    def __init__(self, store: Path, *, host: str = "127.0.0.1", port: int = 8700) -> None:
        self.store, self.host, self.port = store, host, port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.store / "mesh-sandbox.pid"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 60.0) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        self.stop_orphan()
        listener = self._bind()
        env = {
            **os.environ,
            "STORE_MODE": "file",
            "MAILBOXES_DATA_DIR": str(self.store.resolve()),
            "AUTH_MODE": "full",
            "SHARED_KEY": os.environ.get("MESH_SHARED_KEY", "TestKey"),
        }
        log_path = self.store / "mesh-sandbox.log"
        fd = listener.fileno()
        uvicorn = [sys.executable, "-m", "uvicorn", _COMMAND, "--fd", str(fd), "--workers", "1"]
        with log_path.open("ab") as log, listener:
            self._process = subprocess.Popen(  # noqa: S603
                uvicorn,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(fd,),
                preexec_fn=_die_with_parent(os.getpid()),  # `up` starts no threads before this
            )
        self.pid_file.write_text(f"{self._process.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise RuntimeError(f"mesh-sandbox exited with {code}; see {log_path}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"mesh-sandbox not healthy on {self.url} after {timeout:.0f} s; see {log_path}")

    def _bind(self) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine, a listener is not
        try:
            listener.bind((self.host, self.port))
            listener.listen(128)
        except OSError as exc:
            listener.close()
            raise MeshPortTaken(
                f"port {self.port} for mesh-sandbox is in use by another process ({exc.strerror}):"
                " stop it, or pass --mesh-port with a free port"
            ) from exc
        listener.set_inheritable(True)
        return listener

    def stop_orphan(self) -> int | None:
        """Stop a mesh-sandbox an earlier ``up`` on this folder left running; its pid, or ``None``."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        self.pid_file.unlink(missing_ok=True)
        if not _is_our_sandbox(pid):
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _is_our_sandbox(pid):
                time.sleep(0.1)
            if _is_our_sandbox(pid):
                os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None
        self.pid_file.unlink(missing_ok=True)


def _is_our_sandbox(pid: int) -> bool:
    """Alive and running mesh-sandbox (a recycled pid belongs to someone else: leave it alone)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if _COMMAND.encode() not in cmdline:
        return False
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
        if status and status[0] == "Z":  # exited, waiting for its parent to reap it
            return False
    return True


def _die_with_parent(parent: int) -> Callable[[], None]:
    """In the child before exec: on Linux ask for SIGTERM when ``up`` dies, however it dies."""

    def arrange() -> None:
        if not sys.platform.startswith("linux"):
            return
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # `up` died before the request above took effect
            os._exit(1)

    return arrange
