"""Referral benchmark: ``$process-message`` with the BaRS example, and ``$screen`` over a generated practice.

Each against a bare FastAPI endpoint echoing the same body, measured in the same run. The referral
service runs as in production (``pain-review serve referral`` under uvicorn, one process, in-process
events, SQLite with WAL and ``synchronous=FULL``, and PostgreSQL when one is reachable); the bare
echo app runs under the same uvicorn in its own process. An httpx client in this process drives both,
after a warm-up. Server CPU time and peak memory come from ``/proc/<pid>`` (peak reset before each run).

* intake: the real ``ValidationRequest_POST.json`` (19 entries: MessageHeader + 18 resources), each
  message with fresh uuids, a patient of its own (a synthetic 999 NHS number in place of the
  example's) and its own X-Request-Id, sent ``BENCH_CONCURRENCY`` at a time; every
  resource validated as R4, stored with history and search index, the workflow Task written three
  times (received, triaged, needs-review), an AuditEvent, a Provenance and ``referral.received`` in
  the outbox, in one transaction per message. Reported: messages/s and FHIR resources/s (wall clock),
  and resources per second of server CPU (per core: the server is one process).
* screen: a generated practice (``tests/unit/referral/referral_records.practice``) streamed as NDJSON
  in 64 KiB chunks; 1,000 and ``BENCH_PATIENTS`` (10,000) patients, to show memory staying flat.
  Two bare rows: ``echo`` (the body read whole and sent back: the bytes in and out, memory growing
  with the body) and ``drain`` (the body read as it streams, its size sent back: the transfer alone).

Prints a table and writes ``bench/results-referral.json``. Not a test. Environment: ``BENCH_MESSAGES``
(600), ``BENCH_CONCURRENCY`` (4), ``BENCH_PATIENTS`` (10000), ``BENCH_PG_ADMIN_URL``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results-referral.json")
EXAMPLE = ROOT.parent / "shared" / "reference" / "bars-examples" / "ValidationRequest_POST.json"
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "600"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WARMUP = 40
ENDPOINT = "https://fhir.nhs.uk/Id/dos-service-id|2000099999"
PRACTICE = "A81001"
CHUNK = 64 * 1024
GOALS = {"intake_resources_per_cpu_s": 1000.0, "screen_10k_seconds": 20.0}
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
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

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime, every thread

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


# ---- intake ---------------------------------------------------------------------------------------
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


def _intake_run(server: Server, path: str, headers: dict[str, str], expect: int) -> dict[str, Any]:
    entries = len(json.loads(EXAMPLE.read_text())["entry"])
    asyncio.run(_send_all(server.url + path, _messages(WARMUP), headers, expect))
    bodies = _messages(MESSAGES)
    cpu = server.cpu_seconds()
    timing = asyncio.run(_send_all(server.url + path, bodies, headers, expect))
    cpu = server.cpu_seconds() - cpu
    resources = MESSAGES * entries
    return {
        "messages": MESSAGES,
        "resources": resources,
        "messages_per_s": round(MESSAGES / timing["elapsed_s"], 1),
        "resources_per_s": round(resources / timing["elapsed_s"], 1),
        "server_cpu_s": round(cpu, 2),
        "resources_per_cpu_s": round(resources / cpu, 1) if cpu else None,
        "p50_ms": timing["p50_ms"],
        "p99_ms": timing["p99_ms"],
    }


# ---- screen ---------------------------------------------------------------------------------------
def _practice_file(folder: Path, patients: int) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.unit.referral.referral_records import practice

    path = folder / f"practice-{patients}.ndjson"
    with path.open("wb") as out:
        for resource in practice(patients):
            out.write(orjson.dumps(resource) + b"\n")
    return path


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk


def _stream(url: str, path: Path, headers: dict[str, str]) -> tuple[float, bytes]:
    async def send() -> tuple[float, bytes]:
        async with httpx.AsyncClient(timeout=600) as client:
            start = time.perf_counter()
            async with client.stream("POST", url, content=_file_chunks(path), headers=headers) as response:
                last = b""
                async for chunk in response.aiter_bytes():  # read it all, keep only the tail
                    last = chunk
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: {response.status_code} {last[:300]!r}")
            return time.perf_counter() - start, last

    return asyncio.run(send())


def _screen_run(server: Server, url: str, path: Path, headers: dict[str, str]) -> dict[str, Any]:
    baseline = server.reset_peak()
    cpu = server.cpu_seconds()
    elapsed, _body = _stream(url, path, headers)
    return {
        "seconds": round(elapsed, 2),
        "server_cpu_s": round(server.cpu_seconds() - cpu, 2),
        "rss_before_mib": round(baseline, 1),
        "peak_rss_mib": round(server.peak_mib(), 1),
        "peak_growth_mib": round(server.peak_mib() - baseline, 1),
        "body_mib": round(path.stat().st_size / 2**20, 1),
    }


# ---- the run --------------------------------------------------------------------------------------
def _run() -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-referral-"))
    report: dict[str, Any] = {"cpus": os.cpu_count(), "concurrency": CONCURRENCY, "intake": {}, "screen": {}}
    try:
        token = _token(folder)
        fhir = {"authorization": f"Bearer {token}", "content-type": "application/fhir+json"}
        with bare_server() as bare:
            report["intake"]["bare-echo"] = _intake_run(bare, "/echo", fhir, 200)
        with postgres_database() as pg_url:
            for label, url in (("referral-sqlite", None), ("referral-postgresql", pg_url)):
                if label.endswith("postgresql") and url is None:
                    continue
                with referral_server(folder, folder / label, url) as server:
                    report["intake"][label] = _intake_run(server, "/fhir/$process-message", fhir, 201)
        print("generating the practices ...", flush=True)
        files = {n: _practice_file(folder, n) for n in sorted({200, 1000, PATIENTS})}
        ndjson = {**fhir, "content-type": "application/fhir+ndjson"}
        query = "?date=2024-06-15&_count=100"
        with bare_server() as bare:
            _stream(bare.url + "/echo", files[200], ndjson)  # warm-up
            for n in sorted({1000, PATIENTS}):
                for path in ("echo", "drain"):
                    run = _screen_run(bare, f"{bare.url}/{path}", files[n], ndjson)
                    report["screen"][f"bare-{path}-{n}"] = run
        with referral_server(folder, folder / "screen", None) as server:
            url = server.url + "/fhir/$screen" + query
            _stream(url, files[200], ndjson)  # warm-up
            for n in sorted({1000, PATIENTS}):
                report["screen"][f"referral-{n}"] = _screen_run(server, url, files[n], ndjson)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    best = max(r["resources_per_cpu_s"] or 0 for k, r in report["intake"].items() if k.startswith("referral"))
    screened = report["screen"][f"referral-{PATIENTS}"]
    report["patients"] = PATIENTS
    report["goals"] = {
        "intake >= 1000 resources per CPU second": {
            "value": best,
            "met": best >= GOALS["intake_resources_per_cpu_s"],
        },
        f"screen {PATIENTS} patients <= 20 s": {
            "value": screened["seconds"],
            "met": screened["seconds"] <= GOALS["screen_10k_seconds"],
        },
        "screen memory flat (peak growth 10x patients < 2x)": {
            "value": [report["screen"]["referral-1000"]["peak_growth_mib"], screened["peak_growth_mib"]],
            "met": screened["peak_growth_mib"]
            < 2 * max(report["screen"]["referral-1000"]["peak_growth_mib"], 8),
        },
    }
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
    print(f"intake: {MESSAGES} BaRS ValidationRequest messages (19 entries each), {CONCURRENCY} in flight")
    _table(
        ("server", "msg/s", "resources/s", "server CPU s", "resources/CPU s", "p50 ms", "p99 ms"),
        [
            (
                name,
                r["messages_per_s"],
                r["resources_per_s"],
                r["server_cpu_s"],
                r["resources_per_cpu_s"],
                r["p50_ms"],
                r["p99_ms"],
            )
            for name, r in report["intake"].items()
        ],
    )
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
