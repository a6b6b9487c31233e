"""What the HTTP benchmarks share: a service served as in production, the bare baseline, a timed load.

Reuses ``bench.referral``'s process helpers (``Server``, ``postgres_database``, the token) rather than a
second harness; adds a generic ``pain-review serve <service>`` server, a bare FastAPI app that echoes a
POST body and returns a stored JSON on GET (``python -m bench.harness bare PORT``), and a load generator
that keeps ``concurrency`` requests in flight for a fixed time after a warm-up, in this process (the
servers each run in their own).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from starlette.responses import Response

from bench.referral import PRACTICE, Server, postgres_database
from bench.wrk import WRK_MISSING, wrk_path

__all__ = [
    "CONCURRENCY",
    "PRACTICE",
    "Call",
    "Server",
    "bare_server",
    "load",
    "loadavg",
    "postgres_database",
    "print_table",
    "row",
    "service_server",
    "token",
    "wrk_main",
    "wrk_report",
]

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
"""Connections wrk keeps busy in the wrk-driven REST benchmarks (``fhir``, ``medreview``)."""

# One request: (method, path, body or None); made fresh for each call so bodies can differ.
Call = tuple[str, str, bytes | None]
STORED = b'{"resourceType":"Observation","id":"stored","status":"final"}'


def bare_app() -> FastAPI:
    app = FastAPI()
    stored: dict[str, bytes] = {"stored": STORED}

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        body = await request.body()
        return Response(body, status_code=201, media_type=request.headers.get("content-type"))

    @app.get("/stored/{key}")
    async def read(key: str) -> Response:
        return Response(stored.get(key, STORED), media_type="application/fhir+json")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@contextmanager
def bare_server() -> Iterator[Server]:
    server = Server([sys.executable, "-m", "bench.harness", "bare", "{port}"], dict(os.environ), "/healthz")
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def service_server(service: str, auth_dir: Path, var_dir: Path, database_url: str | None) -> Iterator[Server]:
    """``pain-review serve <service>`` (production composition), embedded auth, limiter out of the way."""
    prefix = service.upper() + "_"
    env = {k: v for k, v in os.environ.items() if not k.startswith((prefix, "PAINREVIEW_"))}
    env.update(
        {
            f"{prefix}VAR_DIR": str(var_dir),
            "PAINREVIEW_AUTH_VAR_DIR": str(auth_dir),
            "PAINREVIEW_AUTH_RATE_PER_MINUTE": "100000000",
            "PAINREVIEW_AUTH_RATE_BURST": "1000000",
            "PAINREVIEW_LOG_LEVEL": "WARNING",
        }
    )
    if database_url:
        env[f"{prefix}DATABASE_URL"] = database_url
    cli = str(Path(sys.executable).parent / "pain-review")
    server = Server([cli, "serve", service, "--host", "127.0.0.1", "--port", "{port}"], env, "/healthz")
    try:
        yield server
    finally:
        server.stop()


def token(auth_dir: Path) -> str:
    from shared.auth import AuthSettings, mint_local_token

    return mint_local_token(
        AuthSettings(var_dir=auth_dir), practice=PRACTICE, scope="system/*.cruds", lifetime_s=3600
    )


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def load(
    server: Server,
    make: Callable[[int], Call],
    headers: dict[str, str],
    expect: int,
    *,
    seconds: float,
    warmup_s: float = 1.0,
    concurrency: int = 8,
    seen: Callable[[httpx.Response], None] | None = None,
) -> dict[str, Any]:
    """Keep ``concurrency`` requests in flight for ``warmup_s`` (discarded) then ``seconds``; returns
    requests/s, p50/p99 ms and the server's CPU seconds. ``make(n)`` gives the n-th request; ``seen``
    is shown every response."""

    async def run(duration: float, counter: list[int]) -> tuple[float, list[float]]:
        latencies: list[float] = []
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
            deadline = time.perf_counter() + duration

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    n = counter[0]
                    counter[0] += 1
                    method, path, body = make(n)
                    start = time.perf_counter()
                    response = await client.request(
                        method, path, content=body, headers={**headers, "x-request-id": str(uuid.uuid4())}
                    )
                    latencies.append(time.perf_counter() - start)
                    if response.status_code != expect:
                        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:600]}")
                    if seen is not None:
                        seen(response)

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - start, latencies

    counter = [0]
    asyncio.run(run(warmup_s, counter))
    cpu = server.cpu_seconds()
    elapsed, latencies = asyncio.run(run(seconds, counter))
    cpu = server.cpu_seconds() - cpu
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 2),
        "server_cpu_s": round(cpu, 2),
        "per_cpu_s": round(len(latencies) / cpu, 1) if cpu else None,
    }


def row(
    benchmark: str,
    database: str,
    metric: str,
    ours: dict[str, Any],
    baseline: dict[str, Any],
    *,
    peer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One line of ``python -m bench``'s summary table: requests/s of ours against the baseline (and the
    peer, where there is one), our latency, and the server CPU per request of each with the load
    generator's own (``bench.wrk``'s fields, where measured)."""

    def per_s_ratio(other: dict[str, Any] | None) -> float | None:
        return round(ours["per_s"] / other["per_s"], 3) if other and other.get("per_s") else None

    return {
        "benchmark": benchmark,
        "database": database,
        "metric": metric,
        "ours": ours["per_s"],
        "baseline": baseline["per_s"],
        "ratio": per_s_ratio(baseline),
        "peer": peer["per_s"] if peer else None,
        "peer_ratio": per_s_ratio(peer),
        "p50_ms": ours["p50_ms"],
        "p99_ms": ours["p99_ms"],
        "cpu_ms": ours.get("server_cpu_ms_per_request"),
        "baseline_cpu_ms": baseline.get("server_cpu_ms_per_request"),
        "peer_cpu_ms": peer.get("server_cpu_ms_per_request") if peer else None,
        "client_cpu_ms": ours.get("wrk_cpu_ms_per_request"),
    }


def print_table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Text columns left-aligned, numeric columns right-aligned."""
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    numeric = [any(isinstance(r[i], int | float) for r in rows) for i in range(len(header))]
    for line in (header, *rows):
        cells = zip(line, widths, numeric, strict=True)
        print("  ".join(str(x).rjust(w) if right else str(x).ljust(w) for x, w, right in cells).rstrip())


def wrk_report(seconds: float, concurrency: int) -> dict[str, Any]:
    """The start of a wrk-driven benchmark's report: the machine, the load it runs with, the host's load."""
    return {
        "cpus": os.cpu_count(),
        "concurrency": concurrency,
        "seconds": seconds,
        "load_average_1m": {"before": loadavg()},
        "results": {},
        "rows": [],
    }


def wrk_main(
    results: Path, run: Callable[[], dict[str, Any]], show: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """``main()`` of a wrk-driven benchmark: without wrk, say so and give no rows; else ``run`` it (the
    host's load average noted after), ``show`` its table and write its report to ``results``."""
    if wrk_path() is None:
        print(WRK_MISSING)
        return {"rows": [], "missing": WRK_MISSING}
    report = run()
    report["load_average_1m"]["after"] = loadavg()
    show(report)
    results.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {results}")
    return report


if __name__ == "__main__":
    if sys.argv[1:2] == ["bare"]:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
