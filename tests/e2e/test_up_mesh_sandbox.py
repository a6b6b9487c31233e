"""``pain-review up`` owns its mesh-sandbox: it refuses a port it did not open, the sandbox dies with
``up`` even on ``kill -9``, and an orphan an earlier run left behind is stopped, never taken for its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from painreview.mesh_sandbox import MeshPortTaken, MeshSandbox
from tests.e2e.running import BIN, free_port
from tests.support import eventually

DEADLINE_S = 60.0


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        yield other.getsockname()[1]


def test_a_mesh_port_another_process_holds_is_refused(tmp_path: Path, held_port: int) -> None:
    with pytest.raises(MeshPortTaken, match=f"port {held_port} .* pass --mesh-port"):
        MeshSandbox(tmp_path / "mesh", port=held_port).start()


def test_up_on_a_held_mesh_port_stops_with_one_line_saying_what_to_do(tmp_path: Path, held_port: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GPCONNECT_MESH_URL"}
    result = subprocess.run(
        [str(BIN / "pain-review"), "up", "--port", str(free_port()), "--mesh-port", str(held_port)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "pass --mesh-port" in errors[0], result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_sandbox_dies_with_its_owner_even_on_kill_9(tmp_path: Path) -> None:
    port = free_port()
    owner_script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from painreview.mesh_sandbox import MeshSandbox
        sandbox = MeshSandbox(Path({str(tmp_path / "mesh")!r}), port={port})
        sandbox.start()
        print(sandbox.pid, flush=True)
        time.sleep(600)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        child = int(owner.stdout.readline())
        assert listening(port)
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=DEADLINE_S)
        eventually(
            lambda: not _alive(child),
            within=DEADLINE_S,
            every=0.2,
            what="the sandbox of a killed owner exits",
        )
        eventually(
            lambda: not listening(port), within=DEADLINE_S, every=0.2, what="the MESH port is free again"
        )
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(timeout=DEADLINE_S)
        if owner.stdout is not None:
            owner.stdout.close()


def test_an_orphan_left_on_the_same_folder_is_stopped_not_taken_for_ours(tmp_path: Path) -> None:
    store, port = tmp_path / "mesh", free_port()
    store.mkdir()
    orphan = subprocess.Popen(  # a sandbox that outlived its owner
        [sys.executable, "-m", "uvicorn", "mesh_sandbox.api:app", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "STORE_MODE": "memory", "AUTH_MODE": "none"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sandbox = MeshSandbox(store, port=port)
    try:
        (store / "mesh-sandbox.pid").write_text(f"{orphan.pid}\n")
        eventually(lambda: listening(port), within=DEADLINE_S, every=0.2, what="the orphan listens")
        sandbox.start()
        assert orphan.wait(timeout=DEADLINE_S) is not None  # stopped by the new owner
        assert sandbox.pid not in (None, orphan.pid) and listening(port)
        assert (store / "mesh-sandbox.pid").read_text().strip() == str(sandbox.pid)
    finally:
        sandbox.stop()
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait(timeout=DEADLINE_S)
    assert not (store / "mesh-sandbox.pid").exists()
