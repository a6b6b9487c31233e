"""What the intake benchmark's runs share: the BaRS example, the endpoint it is addressed to, and
profiling a server with py-spy.

The load itself is ``wrk`` (``bench/wrk.py`` and ``bench/intake.lua``): each request the real
``ValidationRequest_POST.json`` with fresh uuids, a patient of its own (a synthetic 999 NHS number in
place of the example's) and its own X-Request-Id. With ``BENCH_PYSPY=<folder>`` the first measured run
of each server is also sampled by ``py-spy record`` (collapsed stacks per server in that folder); the
sampling slows the server, so a profiled run's figures are for reading the profile, not for quoting.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.referral import Server

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "fixtures" / "bars-examples" / "ValidationRequest_POST.json"
PYSPY = os.environ.get("BENCH_PYSPY")
PYSPY_ARGS = os.environ.get("BENCH_PYSPY_ARGS", "--gil --rate 200").split()
ENDPOINT = "https://fhir.nhs.uk/Id/dos-service-id|2000099999"

__all__ = ["ENDPOINT", "EXAMPLE", "profiled"]


@contextmanager
def profiled(server: Server, label: str) -> Iterator[None]:
    """Sample the server with py-spy while the block runs, when ``BENCH_PYSPY`` names a folder.

    Writes ``<label>.txt``: collapsed stacks (one line per stack, its sample count last), the input
    of any flame graph tool; ``python -m bench.profile <file>`` sums them by function. By default
    (``BENCH_PYSPY_ARGS``: ``--gil --rate 200``) only the thread holding the GIL is sampled: Python's
    CPU time, without the waits (SQLite's busy lock, fsync at commit, idle worker threads) that a
    wall-clock profile of a threaded server is mostly made of.
    """
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not PYSPY or not label:
        yield
        return
    Path(PYSPY).mkdir(parents=True, exist_ok=True)
    out = Path(PYSPY) / f"{label}.txt"
    command = [spy, "record", "--pid", str(server.process.pid), *PYSPY_ARGS, "--format", "raw"]
    record = subprocess.Popen([*command, "--output", str(out)], stdout=subprocess.DEVNULL)
    time.sleep(1.0)  # let py-spy attach
    try:
        yield
    finally:
        record.send_signal(signal.SIGINT)  # py-spy writes its output and exits
        record.wait(timeout=60)
