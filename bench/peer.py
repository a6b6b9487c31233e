"""The Python peer of the FHIR benchmark: fhirstarter, served from its own venv in ``.bench-peer/``.

fhirstarter 4.2.0 pins ``fastapi<0.137`` and ``python-multipart==0.0.31``, older than this project's, so
it cannot be a dependency of ``.venv``; ``peer_server()`` makes ``.bench-peer/`` once (``uv venv`` on the
interpreter running the benchmark, and ``uv pip install -r bench/peer/requirements.txt``, the pins with
their source named there) and serves ``bench/peer/server.py`` under uvicorn, a process of its own like ours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.referral import Server

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench-peer"
REQUIREMENTS = Path(__file__).with_name("peer") / "requirements.txt"
SERVER = Path(__file__).with_name("peer") / "server.py"

__all__ = ["peer_python", "peer_server"]


def _uv() -> str:
    found = ROOT / ".tools" / "bin" / "uv"
    if found.exists():
        return str(found)
    on_path = shutil.which("uv")
    if on_path is None:
        raise RuntimeError("uv not found: run `make install` first (it bootstraps .tools/bin/uv)")
    return on_path


def peer_python() -> Path:
    """The peer venv's interpreter, made (or brought up to ``requirements.txt``) first."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    uv = _uv()
    if not python.exists():
        # The interpreter running the benchmark (the project's), not whichever "3.11" uv finds first:
        # there may be none, or another build of it.
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(VENV)], check=True)
    env = {**os.environ, "VIRTUAL_ENV": str(VENV)}
    subprocess.run([uv, "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True, env=env)
    stamp.write_text(wanted)
    return python


@contextmanager
def peer_server() -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    server = Server([str(peer_python()), str(SERVER), "{port}"], env, "/healthz")
    try:
        yield server
    finally:
        server.stop()
