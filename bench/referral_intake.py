"""The intake half of the referral benchmark: BaRS messages sent to ``$process-message``.

Each message is the real ``ValidationRequest_POST.json`` with fresh uuids, a patient of its own (a
synthetic 999 NHS number in place of the example's) and its own X-Request-Id, sent ``BENCH_CONCURRENCY``
at a time after a warm-up. With ``BENCH_PYSPY=<folder>`` the measured run of each server is also
sampled by ``py-spy record`` (collapsed stacks per server in that folder); the
sampling slows the server, so a profiled run's figures are for reading the profile, not for quoting.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson

if TYPE_CHECKING:
    from bench.referral import Server

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests" / "fixtures" / "bars-examples" / "ValidationRequest_POST.json"
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "600"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
PYSPY = os.environ.get("BENCH_PYSPY")
PYSPY_ARGS = os.environ.get("BENCH_PYSPY_ARGS", "--gil --rate 200").split()
WARMUP = 40
ENDPOINT = "https://fhir.nhs.uk/Id/dos-service-id|2000099999"
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

__all__ = ["CONCURRENCY", "ENDPOINT", "EXAMPLE", "MESSAGES", "intake_run"]


# ---- messages ---------------------------------------------------------------------------------------
def _nhs_numbers() -> Iterator[str]:
    """Valid NHS numbers (modulus 11) from the 999 test range, each once."""
    for serial in range(10**6):
        first_nine = f"999{serial:06d}"
        check = 11 - sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            yield f"{first_nine}{0 if check == 11 else check}"


_NUMBERS = _nhs_numbers()


def _messages(count: int) -> list[bytes]:
    """The BaRS example addressed to us, each copy a new referral: its own uuids, its own patient
    (the example's NHS number replaced by a synthetic one from the 999 test range)."""
    message = json.loads(EXAMPLE.read_text())
    message["entry"][0]["resource"]["destination"][0]["endpoint"] = ENDPOINT
    template = orjson.dumps(message)
    uuids = set(UUID.findall(template))
    bodies = []
    for _ in range(count):
        body = template.replace(b"3478526985", next(_NUMBERS).encode())
        for old in uuids:
            body = body.replace(old, str(uuid.uuid4()).encode())
        bodies.append(body)
    return bodies


async def _send_all(url: str, bodies: list[bytes], headers: dict[str, str], expect: int) -> dict[str, Any]:
    latencies: list[float] = []
    queue = iter(bodies)
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=CONCURRENCY)) as client:

        async def worker() -> None:
            for body in queue:
                start = time.perf_counter()
                response = await client.post(
                    url, content=body, headers={**headers, "x-request-id": str(uuid.uuid4())}
                )
                latencies.append(time.perf_counter() - start)
                if response.status_code != expect:
                    raise RuntimeError(f"{url}: {response.status_code} {response.text[:600]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "elapsed_s": elapsed,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
    }


def intake_run(
    server: Server, path: str, headers: dict[str, str], expect: int, label: str = ""
) -> dict[str, Any]:
    entries = len(json.loads(EXAMPLE.read_text())["entry"])
    asyncio.run(_send_all(server.url + path, _messages(WARMUP), headers, expect))
    bodies = _messages(MESSAGES)
    with _profiled(server, label):
        user, system = server.cpu_times()
        timing = asyncio.run(_send_all(server.url + path, bodies, headers, expect))
        user, system = (
            after - before for after, before in zip(server.cpu_times(), (user, system), strict=True)
        )
    cpu = user + system
    resources = MESSAGES * entries
    return {
        "messages": MESSAGES,
        "resources": resources,
        "messages_per_s": round(MESSAGES / timing["elapsed_s"], 1),
        "resources_per_s": round(resources / timing["elapsed_s"], 1),
        "server_cpu_s": round(cpu, 2),
        "server_sys_s": round(system, 2),
        "server_cpu_ms_per_message": round(1000 * cpu / MESSAGES, 2),
        "resources_per_cpu_s": round(resources / cpu, 1) if cpu else None,
        "p50_ms": timing["p50_ms"],
        "p99_ms": timing["p99_ms"],
    }


@contextmanager
def _profiled(server: Server, label: str) -> Iterator[None]:
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
