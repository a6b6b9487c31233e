"""Intake driven by ``wrk``, a compiled load generator: the baseline is the server's cost, not the client's.

``wrk`` (Debian package ``wrk``: ``apt-get install wrk``) runs ``bench/intake.lua``, which POSTs the real
BaRS ``ValidationRequest_POST.json`` with every uuid, the NHS number (a synthetic one from the 999 test
range) and the X-Request-Id fresh per request, so each request is a new referral of a new patient.
For each run this module reports requests/s, p50/p90/p99 (wrk's own latency histogram), the server's
CPU per request (``/proc/<pid>/stat`` of the server process, every thread, before and after the run)
and wrk's own CPU (its rusage, reaped with ``wait4``), so a reader can see the load generator is not
the bottleneck.

The floor of an intake message (``validation_floor``): the CPU of validating the message's resources
with ``shared.fhir.models.validate_resource`` (HL7's R4 JSON Schema, tightened, and the required
bindings: exactly what intake runs) in this process, plus the bare echo's server CPU for the same body
measured by wrk in the same run. Intake CPU per message divided by that floor is the ratio the issue's
goal is set on. The "model floor" beside it validates with the ``fhir.resources`` models instead, as
intake did when the issue set the goal (and until 2026-12-06).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.referral_intake import ENDPOINT, EXAMPLE

__all__ = [
    "REST_SCRIPT",
    "WRK_MISSING",
    "run_requests",
    "run_wrk",
    "validation_floor",
    "write_template",
    "wrk_path",
]

SCRIPT = Path(__file__).with_name("intake.lua")
REST_SCRIPT = Path(__file__).with_name("rest.lua")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EXAMPLE_NHS_NUMBER = "9992345675"
SERIAL_SPAN = 100_000  # NHS number serials per wrk thread and run: far more than a run sends
THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
TICKS = os.sysconf("SC_CLK_TCK")
WRK_MISSING = (
    "wrk is not installed: the intake benchmark needs it (Debian/Ubuntu: apt-get install wrk). "
    "Without it the intake rows are not measured; the httpx client in this process would be the "
    "bottleneck of the baseline, so no Python fallback is offered."
)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def message() -> dict[str, Any]:
    """The BaRS example addressed to this service's endpoint."""
    body: dict[str, Any] = json.loads(EXAMPLE.read_text())
    body["entry"][0]["resource"]["destination"][0]["endpoint"] = ENDPOINT
    return body


def write_template(folder: Path) -> Path:
    """The example with its uuids as ``@@U<k>@@`` and its NHS number as ``@@NHS@@`` (bench/intake.lua)."""
    text = json.dumps(message(), separators=(",", ":"))
    numbers: dict[str, int] = {}
    text = UUID.sub(lambda m: f"@@U{numbers.setdefault(m.group(0), len(numbers))}@@", text)
    if EXAMPLE_NHS_NUMBER not in text or len(numbers) >= 4095:
        raise RuntimeError("the BaRS example changed: update bench/wrk.py's placeholders")
    path = folder / "intake-template.json"
    path.write_text(text.replace(EXAMPLE_NHS_NUMBER, "@@NHS@@"))
    return path


class Serials:
    """Disjoint blocks of NHS number serials, one per wrk run, so no two runs share a patient."""

    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        base = self.next
        self.next += THREADS * SERIAL_SPAN
        if self.next > 10**6:
            raise RuntimeError("out of 999 NHS number serials: fewer runs per server")
        return base


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_wrk(
    *,
    url: str,
    template: Path | None = None,
    serial_base: int = 0,
    headers: dict[str, str],
    expect: int,
    seconds: float,
    connections: int,
    server_pid: int,
    script: Path = SCRIPT,
    script_args: list[str] | None = None,
) -> dict[str, Any]:
    """One wrk run against ``url``; raises when any response is not ``expect`` or a socket failed.

    By default the intake script with ``template`` and ``serial_base``; another ``script`` (such as
    ``bench/rest.lua``) gets ``script_args`` after the nonce and the thread count instead."""
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError(WRK_MISSING)
    env = {
        **os.environ,
        "BENCH_WRK_AUTHORIZATION": headers.get("authorization", ""),
        "BENCH_WRK_CONTENT_TYPE": headers.get("content-type", "application/fhir+json"),
        "BENCH_WRK_EXPECT": str(expect),
    }
    threads = min(THREADS, connections)
    nonce = secrets.randbits(32)
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "-s",
        str(script),
        url,
        "--",
    ]
    if script_args is None:
        command += [str(template), str(nonce), str(serial_base), str(SERIAL_SPAN)]
    else:
        command += [*script_args, str(nonce), str(threads)]
    cpu_before = _cpu(server_pid)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    server_cpu = _cpu(server_pid) - cpu_before
    marker = next((line for line in output.splitlines() if line.startswith("WRK-JSON ")), None)
    if process.returncode != 0 or marker is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {output[-2000:]}")
    raw = json.loads(marker.removeprefix("WRK-JSON "))
    socket_errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    if raw["unexpected"] or socket_errors:
        body = next((x for x in output.splitlines() if x.startswith("WRK-FIRST-UNEXPECTED-BODY")), "")
        raise RuntimeError(
            f"{url}: {raw['unexpected']} responses not {expect} (first {raw['first_unexpected_status']}), "
            f"{socket_errors} socket errors/timeouts; {body[:1600]}"
        )
    requests = raw["requests"]
    elapsed = raw["duration_us"] / 1e6
    wrk_cpu = usage.ru_utime + usage.ru_stime
    return {
        "connections": connections,
        "wrk_threads": threads,
        "requests": requests,
        "seconds": round(elapsed, 2),
        "per_s": round(requests / elapsed, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p90_ms": round(raw["p90_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        "max_ms": round(raw["max_us"] / 1000, 1),
        "p99_over_p50": round(raw["p99_us"] / raw["p50_us"], 2) if raw["p50_us"] else None,
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_request": round(1000 * server_cpu / requests, 2) if requests else None,
        "server_cores_busy": round(server_cpu / elapsed, 2),
        "wrk_cpu_s": round(wrk_cpu, 2),
        "wrk_cpu_ms_per_request": round(1000 * wrk_cpu / requests, 3) if requests else None,
    }


def run_requests(
    *,
    url: str,
    server_pid: int,
    requests: list[tuple[str, str, bytes | None]],
    file: Path,
    headers: dict[str, str],
    expect: int,
    seconds: float,
    connections: int,
    warmup_s: float = 1,
) -> dict[str, Any]:
    """``requests`` (method, path, single-line body or None) cycled through by wrk (``bench/rest.lua``)
    for ``warmup_s`` (discarded) then ``seconds``; the second run's figures."""
    lines = []
    for method, path, body in requests:
        text = (body or b"").decode()
        if "\n" in text or "\t" in text or "\t" in path:
            raise ValueError("bench/rest.lua takes single-line bodies and paths without tabs")
        lines.append(f"{method}\t{path}\t{text}")
    file.write_text("\n".join(lines) + "\n")
    common: dict[str, Any] = {
        "url": url,
        "headers": headers,
        "expect": expect,
        "connections": connections,
        "server_pid": server_pid,
        "script": REST_SCRIPT,
        "script_args": [str(file)],
    }
    if warmup_s > 0:
        run_wrk(seconds=warmup_s, **common)
    return run_wrk(seconds=seconds, **common)


def validation_floor(rounds: int = 100) -> dict[str, Any]:
    """CPU per message of validating its resources as intake does (``validate_resource`` of each entry),
    in this process, after a warm-up round; the best of three timings, as the least disturbed one.
    Beside it, the same with ``validate_model`` (the ``fhir.resources`` R4B models and the bindings):
    what intake ran until 2026-12-06, and the validation of the floor issue 19 set its 1.5x goal on."""
    from shared.fhir.models import validate_model, validate_resource

    resources = [entry["resource"] for entry in message()["entry"]]

    def once() -> None:
        for resource in resources:
            validate_resource(resource)

    def with_models() -> None:
        for resource in resources:
            validate_model(resource)

    return {
        "resources": len(resources),
        "validation_cpu_ms_per_message": _best_ms(once, rounds),
        "model_validation_cpu_ms_per_message": _best_ms(with_models, max(1, rounds // 4)),
    }


def _best_ms(work: Callable[[], None], rounds: int) -> float:
    work()
    timings = []
    for _ in range(3):
        start = time.process_time()
        for _ in range(rounds):
            work()
        timings.append((time.process_time() - start) / rounds)
    return round(1000 * min(timings), 3)
