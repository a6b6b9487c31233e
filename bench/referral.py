"""Referral benchmark: ``$process-message`` with the BaRS example, and ``$screen`` over a generated practice.

Each against a bare FastAPI endpoint echoing the same body, measured in the same run. The referral
service runs as in production (``pain-review serve referral`` under uvicorn, one process, in-process
events, SQLite with WAL and ``synchronous=FULL``, and PostgreSQL when one is reachable); the bare
echo app runs under the same uvicorn in its own process. Intake is driven by ``wrk`` (``bench/wrk.py``,
``bench/intake.lua``), a compiled load generator, so the bare echo's figure is the server's and not the
client's; ``$screen`` streams one large body, which wrk cannot express, so an httpx client in this
process drives it. Server CPU time and peak memory come from ``/proc/<pid>`` (peak reset before each run).

* intake: the real ``ValidationRequest_POST.json`` (19 entries: MessageHeader + 18 resources), each
  message with fresh uuids, a patient of its own (a synthetic 999 NHS number in place of the
  example's) and its own X-Request-Id, ``BENCH_CONCURRENCY`` (4,32) in flight for ``BENCH_SECONDS``; every
  resource validated as R4, stored with history and search index, the workflow Task written three
  times (received, triaged, needs-review), an AuditEvent, a Provenance and ``referral.received`` in
  the outbox, in one transaction per message. Reported per server and in-flight count: requests/s,
  p50/p99, server CPU per request, that CPU over the floor (validating the message's 19 resources +
  the bare echo of the same body, same run), wrk's own CPU, and the server's idle CPU after the runs.
  Servers: the bare echo, ``serve referral`` on SQLite and PostgreSQL, and ``pain-review up`` (the
  embedded default: all services, consumers and relay in one process).
* screen: a generated practice (``tests/support/referral_records.practice``) streamed as NDJSON
  in 64 KiB chunks; 1,000 and ``BENCH_PATIENTS`` (10,000) patients, to show memory staying flat.
  Two bare rows: ``echo`` (the body read whole and sent back: the bytes in and out, memory growing
  with the body) and ``drain`` (the body read as it streams, its size sent back: the transfer alone).

The intake load is in ``bench/wrk.py`` and ``bench/intake.lua`` (profiling in
``bench/referral_intake.py``), the screen half in ``bench/referral_screen.py``; this module holds the
processes and the run. Prints a table and writes ``bench/results-referral.json``. Not a test.
Environment: ``BENCH_REFERRAL`` (``intake,screen``: the parts to run), ``BENCH_SECONDS`` (10),
``BENCH_CONCURRENCY`` (``4,32``), ``BENCH_IDLE_SECONDS`` (5), ``BENCH_INTAKE_SERVERS``
(``sqlite,postgresql,up``: the intake servers beside the bare echo), ``BENCH_PATIENTS`` (10000),
``BENCH_PG_ADMIN_URL``, ``BENCH_PYSPY`` (a folder: profile each intake server's first run with py-spy,
see ``bench/referral_intake.py``). Intake alone::

    BENCH_REFERRAL=intake .venv/bin/python -m bench referral
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from bench.referral_intake import ENDPOINT, profiled
from bench.referral_screen import CHUNK, practice_file, screen_run, stream
from bench.wrk import WRK_MISSING, Serials, run_wrk, validation_floor, write_template, wrk_path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results-referral.json")
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
PARTS = frozenset(os.environ.get("BENCH_REFERRAL", "intake,screen").replace(" ", "").split(","))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PRACTICE = "A81001"
GOALS = {"intake_over_floor": 1.5, "screen_10k_seconds": 20.0}
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "4,32").split(",")]
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "5"))
SERVERS = frozenset(os.environ.get("BENCH_INTAKE_SERVERS", "sqlite,postgresql,up").split(","))
ENTRIES = 19  # the BaRS example's entries: MessageHeader + 18 resources
TICKS = os.sysconf("SC_CLK_TCK")


# ---- the bare comparison app (``python -m bench.referral bare PORT``) -----------------------------
def bare_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type=request.headers.get("content-type"))

    @app.post("/drain")
    async def drain(request: Request) -> Response:
        # Read the body as it streams in (memory flat) and answer with its size: the transfer alone.
        # (Echoing while the client is still sending deadlocks once both socket buffers fill.)
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return Response(orjson.dumps({"bytes": size}), media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


# ---- processes ------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, command: list[str], env: dict[str, str], health: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [part.replace("{port}", str(self.port)) for part in command]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"server exited: {self.log.read().decode()[-2000:]}")
            with suppress(httpx.HTTPError):
                if httpx.get(self.url + health, timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{command} did not start")

    def cpu_times(self) -> tuple[float, float]:
        """User and system CPU seconds so far, every thread."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICKS, int(fields[12]) / TICKS  # utime, stime

    def cpu_seconds(self) -> float:
        return sum(self.cpu_times())

    def _status(self, key: str) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024  # kB -> MiB
        return float("nan")

    def reset_peak(self) -> float:
        """Reset the peak resident memory to the current one (returns it, MiB)."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        return self._status("VmRSS:")

    def peak_mib(self) -> float:
        return self._status("VmHWM:")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@contextmanager
def referral_server(auth_dir: Path, var_dir: Path, database_url: str | None) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFERRAL_", "PAINREVIEW_"))}
    env.update(
        {
            "REFERRAL_VAR_DIR": str(var_dir),
            "REFERRAL_BARS_ENDPOINT": ENDPOINT,
            "PAINREVIEW_AUTH_VAR_DIR": str(auth_dir),
            "PAINREVIEW_AUTH_RATE_PER_MINUTE": "100000000",
            "PAINREVIEW_AUTH_RATE_BURST": "1000000",
            "PAINREVIEW_LOG_LEVEL": "WARNING",
        }
    )
    if database_url:
        env["REFERRAL_DATABASE_URL"] = database_url
    cli = str(Path(sys.executable).parent / "pain-review")
    server = Server([cli, "serve", "referral", "--host", "127.0.0.1", "--port", "{port}"], env, "/healthz")
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def bare_server() -> Iterator[Server]:
    server = Server([sys.executable, "-m", "bench.referral", "bare", "{port}"], dict(os.environ), "/healthz")
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def postgres_database() -> Iterator[str | None]:
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # no server: the PostgreSQL row is skipped
        print(f"PostgreSQL not reachable ({type(exc).__name__}): intake measured on SQLite only")
        yield None
        return
    name = f"painreview_bench_referral_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _token(var_dir: Path) -> str:
    from shared.auth import AuthSettings, mint_local_token

    auth = AuthSettings(var_dir=var_dir)
    return mint_local_token(auth, practice=PRACTICE, scope="system/*.cruds", lifetime_s=3600)


# ---- the run --------------------------------------------------------------------------------------
@contextmanager
def up_server(var_dir: Path) -> Iterator[Server]:
    """``pain-review up`` (the embedded default: every service, its consumers and the outbox relay in one
    process, SQLite), without mesh-sandbox; its own var directory, so its own issuer key."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("REFERRAL_", "PAINREVIEW_", "GPCONNECT_"))
    }
    env.update(
        {
            "REFERRAL_BARS_ENDPOINT": ENDPOINT,
            "PAINREVIEW_AUTH_RATE_PER_MINUTE": "100000000",
            "PAINREVIEW_AUTH_RATE_BURST": "1000000",
            "PAINREVIEW_LOG_LEVEL": "WARNING",
        }
    )
    cli = str(Path(sys.executable).parent / "pain-review")
    command = [cli, "up", "--no-mesh", "--host", "127.0.0.1", "--port", "{port}", "--var-dir", str(var_dir)]
    server = Server(command, env, "/healthz")
    try:
        yield server
    finally:
        server.stop()


def _intake_server(
    label: str, report: dict[str, Any], folder: Path, server: Server, path: str, headers: dict[str, str]
) -> None:
    """Warm ``server`` up, then one wrk run per ``CONNECTIONS`` (the first one profiled by py-spy when
    ``BENCH_PYSPY`` is set); its idle CPU over ``IDLE_SECONDS`` after the runs."""
    expect = 200 if label == "bare-echo" else 201
    serials = Serials()
    template = write_template(folder)
    common = {"template": template, "headers": headers, "expect": expect, "server_pid": server.process.pid}
    url = server.url + path
    run_wrk(url=url, serial_base=serials.take(), seconds=2, connections=CONNECTIONS[0], **common)
    # The validation half of the floor, measured right before this server's runs: on a shared host the
    # CPU a fixed piece of work costs drifts from minute to minute, and a ratio should not carry that.
    floor = validation_floor()
    validation = floor["validation_cpu_ms_per_message"]
    runs: dict[str, Any] = {}
    for i, connections in enumerate(CONNECTIONS):
        with profiled(server, label if i == 0 else ""):
            runs[str(connections)] = run_wrk(
                url=url, serial_base=serials.take(), seconds=SECONDS, connections=connections, **common
            )
    time.sleep(1.0)
    before = server.cpu_seconds()
    time.sleep(IDLE_SECONDS)
    idle = (server.cpu_seconds() - before) / IDLE_SECONDS
    report["intake"][label] = {
        "runs": runs,
        "validation_cpu_ms_per_message": validation,
        "model_validation_cpu_ms_per_message": floor["model_validation_cpu_ms_per_message"],
        "idle_cpu_percent_of_a_core": round(100 * idle, 2),
    }


def _intake(report: dict[str, Any], folder: Path, fhir: dict[str, str]) -> None:
    if wrk_path() is None:
        print(WRK_MISSING)
        report["intake_missing"] = WRK_MISSING
        return
    with bare_server() as bare:
        _intake_server("bare-echo", report, folder, bare, "/echo", fhir)
    with postgres_database() as pg_url:
        for label, url in (("referral-sqlite", None), ("referral-postgresql", pg_url)):
            if (label.endswith("postgresql") and url is None) or label.removeprefix(
                "referral-"
            ) not in SERVERS:
                continue
            with referral_server(folder, folder / label, url) as server:
                _intake_server(label, report, folder, server, "/fhir/$process-message", fhir)
    if "up" in SERVERS:
        up_dir = folder / "up"
        with up_server(up_dir) as server:
            up_headers = {**fhir, "authorization": f"Bearer {_token(up_dir)}"}
            _intake_server("up-sqlite", report, folder, server, "/referral/fhir/$process-message", up_headers)
    # The floor of each row: validating the message's resources (this process, just before that server's
    # runs) + the bare echo of the same body (its server CPU per request under wrk, same in-flight count).
    echo = {c: r["server_cpu_ms_per_request"] for c, r in report["intake"]["bare-echo"]["runs"].items()}
    validations = [r["validation_cpu_ms_per_message"] for r in report["intake"].values()]
    models = [r["model_validation_cpu_ms_per_message"] for r in report["intake"].values()]
    report["floor"] = {
        "resources": ENTRIES,
        "validation_cpu_ms_per_message": [min(validations), max(validations)],
        "model_validation_cpu_ms_per_message": [min(models), max(models)],
        "echo_cpu_ms_per_request": echo,
    }
    for result in report["intake"].values():
        for c, r in result["runs"].items():
            r["floor_cpu_ms"] = round(result["validation_cpu_ms_per_message"] + echo[c], 3)
            r["cpu_over_floor"] = round(r["server_cpu_ms_per_request"] / r["floor_cpu_ms"], 2)
            model_floor = result["model_validation_cpu_ms_per_message"] + echo[c]
            r["model_floor_cpu_ms"] = round(model_floor, 3)
            r["cpu_over_model_floor"] = round(r["server_cpu_ms_per_request"] / model_floor, 2)
            r["resources_per_cpu_s"] = round(ENTRIES * 1000 / r["server_cpu_ms_per_request"], 1)
    if "up-sqlite" in report["intake"] and "referral-sqlite" in report["intake"]:
        serve = report["intake"]["referral-sqlite"]["runs"]
        up = report["intake"]["up-sqlite"]["runs"]
        report["up_over_serve_throughput"] = {c: round(up[c]["per_s"] / serve[c]["per_s"], 2) for c in up}
    over = {
        f"{k}@{c}": r["cpu_over_floor"]
        for k, result in report["intake"].items()
        if k.startswith("referral")
        for c, r in result["runs"].items()
    }
    report["goals"]["intake CPU <= 1.5x floor"] = {
        "value": over,
        "met": all(v <= GOALS["intake_over_floor"] for v in over.values()),
    }
    tails = {
        f"{k}@{c}": r["p99_over_p50"]
        for k, result in report["intake"].items()
        if k != "bare-echo"
        for c, r in result["runs"].items()
    }
    report["goals"]["intake p99 <= 3x p50"] = {"value": tails, "met": all(t <= 3 for t in tails.values())}
    if "up_over_serve_throughput" in report:
        ratios = report["up_over_serve_throughput"]
        report["goals"]["up >= 0.7x serve throughput"] = {
            "value": ratios,
            "met": all(v >= 0.7 for v in ratios.values()),
        }
        idle = report["intake"]["up-sqlite"]["idle_cpu_percent_of_a_core"]
        report["goals"]["up idle CPU < 1% of a core"] = {"value": idle, "met": idle < 1}


def _screen(report: dict[str, Any], folder: Path, fhir: dict[str, str]) -> None:
    print("generating the practices ...", flush=True)
    files = {n: practice_file(folder, n) for n in sorted({200, 1000, PATIENTS})}
    ndjson = {**fhir, "content-type": "application/fhir+ndjson"}
    query = "?date=2024-06-15&_count=100"
    with bare_server() as bare:
        stream(bare.url + "/echo", files[200], ndjson)  # warm-up
        for n in sorted({1000, PATIENTS}):
            for path in ("echo", "drain"):
                report["screen"][f"bare-{path}-{n}"] = screen_run(
                    bare, f"{bare.url}/{path}", files[n], ndjson
                )
    with referral_server(folder, folder / "screen", None) as server:
        url = server.url + "/fhir/$screen" + query
        stream(url, files[200], ndjson)  # warm-up
        for n in sorted({1000, PATIENTS}):
            report["screen"][f"referral-{n}"] = screen_run(server, url, files[n], ndjson)
    screened = report["screen"][f"referral-{PATIENTS}"]
    report["patients"] = PATIENTS
    report["goals"][f"screen {PATIENTS} patients <= 20 s"] = {
        "value": screened["seconds"],
        "met": screened["seconds"] <= GOALS["screen_10k_seconds"],
    }
    report["goals"]["screen memory flat (peak growth 10x patients < 2x)"] = {
        "value": [report["screen"]["referral-1000"]["peak_growth_mib"], screened["peak_growth_mib"]],
        "met": screened["peak_growth_mib"] < 2 * max(report["screen"]["referral-1000"]["peak_growth_mib"], 8),
    }


def _run() -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-referral-"))
    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "connections": CONNECTIONS,
        "seconds": SECONDS,
        "parts": sorted(PARTS),
        "intake": {},
        "screen": {},
        "goals": {},
    }
    try:
        token = _token(folder)
        fhir = {"authorization": f"Bearer {token}", "content-type": "application/fhir+json"}
        if "intake" in PARTS:
            _intake(report, folder, fhir)
        if "screen" in PARTS:
            _screen(report, folder, fhir)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return report


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print(
            "  ".join(
                str(x).rjust(w) if i else str(x).ljust(w)
                for i, (x, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def _print(report: dict[str, Any]) -> None:
    if report["intake"]:
        low, high = report["floor"]["validation_cpu_ms_per_message"]
        model_low, model_high = report["floor"]["model_validation_cpu_ms_per_message"]
        print(
            f"intake: the BaRS ValidationRequest ({ENTRIES} entries), each request a new referral, driven by "
            f"wrk for {SECONDS:g} s per row; floor = validating its resources as intake does "
            f"({low}-{high} ms of CPU, measured before each server) + the bare echo's server CPU at the "
            "same in-flight count; "
            f"model floor = the same with the fhir.resources models ({model_low}-{model_high} ms) instead"
        )
        _table(
            (
                "server",
                "in flight",
                "req/s",
                "p50 ms",
                "p99 ms",
                "p99/p50",
                "server CPU ms/req",
                "floor ms",
                "x floor",
                "model floor ms",
                "x model floor",
                "resources/CPU s",
                "wrk CPU ms/req",
                "idle CPU %",
            ),
            [
                (
                    name,
                    int(c),
                    r["per_s"],
                    r["p50_ms"],
                    r["p99_ms"],
                    r["p99_over_p50"],
                    r["server_cpu_ms_per_request"],
                    r["floor_cpu_ms"],
                    r["cpu_over_floor"],
                    r["model_floor_cpu_ms"],
                    r["cpu_over_model_floor"],
                    r["resources_per_cpu_s"],
                    r["wrk_cpu_ms_per_request"],
                    result["idle_cpu_percent_of_a_core"],
                )
                for name, result in report["intake"].items()
                for c, r in result["runs"].items()
            ],
        )
        if "up_over_serve_throughput" in report:
            print(
                "up / serve referral throughput (same SQLite, per in-flight): "
                f"{report['up_over_serve_throughput']}"
            )
    if report["screen"]:
        print(f"screen: a generated practice streamed as NDJSON ({CHUNK // 1024} KiB chunks)")
        _table(
            (
                "server",
                "seconds",
                "server CPU s",
                "body MiB",
                "RSS before MiB",
                "peak RSS MiB",
                "peak growth MiB",
            ),
            [
                (
                    name,
                    r["seconds"],
                    r["server_cpu_s"],
                    r["body_mib"],
                    r["rss_before_mib"],
                    r["peak_rss_mib"],
                    r["peak_growth_mib"],
                )
                for name, r in report["screen"].items()
            ],
        )
    for name, goal in report["goals"].items():
        print(f"goal {name}: {'met' if goal['met'] else 'NOT met'} ({goal['value']})")


def main() -> dict[str, Any]:
    report = _run()
    _print(report)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return report


if __name__ == "__main__":
    if sys.argv[1:2] == ["bare"]:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    else:
        main()
