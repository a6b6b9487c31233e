"""``python -m bench.inprocess intake|medreview|search``: server CPU per request through the ASGI app.

The service is composed as ``pain-review serve <service>`` composes it (``create_service_app``, its
lifespan with the outbox relay running, start-up objects frozen), on SQLite in a temporary folder, with
a minted token; each request is handed to the app as uvicorn would hand it (a prepared ``http`` scope,
the whole body in one ``http.request`` message). What it measures is the service's own CPU per request
(``time.process_time``: every thread of this process, user and system time; the system share is
printed beside it, since SQLite's fsync of each commit is system time on these hosts) without the HTTP
server, the sockets or a load generator sharing the two cores: the way to compare two versions of the code
on a busy host.

- ``intake``: ``$process-message`` with the BaRS ``ValidationRequest_POST.json`` exactly as
  ``bench/intake.lua`` sends it (``bench/wrk.py``'s template: fresh uuids, a new synthetic 999 NHS
  number and X-Request-Id per request), each a new referral; 201 expected.
- ``medreview``: ``$medication-review`` of ``bench/medreview.py``'s four-medicine Bundles; 200 expected.
- ``search``: ``GET Observation?patient=...&code=...&_count=10`` on medreview, cycling over
  ``bench/fhir.py``'s 100 patients after ``BENCH_INPROCESS_SEEDED`` (1,700) of its synthetic pain-score
  Observations are created through the same app (``POST Observation``): what ``bench/fhir.py``'s search
  finds on SQLite, its 200 seeded plus what its create phase left (223/s for 7 s in the README's run),
  17 per patient; 200 expected.

After a warm-up (``BENCH_INPROCESS_WARMUP``, 20 requests), ``BENCH_INPROCESS_ROUNDS`` (5) rounds of
``BENCH_INPROCESS_N`` (100) requests; prints CPU ms per request for each round and their median.
``BENCH_INPROCESS_PROFILE=<file>``: then one more round under ``cProfile`` (event loop thread only),
written to that file. For a profile of every thread, run this under ``py-spy record --gil``. Also printed:
the database commits per request (each an fsync of SQLite's write-ahead log at ``synchronous=FULL``).
``BENCH_INPROCESS_SYNCHRONOUS=OFF`` (or ``NORMAL``) sets that pragma on every connection as it leaves
the pool, to measure what durability costs by difference: a measuring knob of this benchmark only, never
a setting of the service, which would then lose referrals it had acknowledged on a power cut. Not a test.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROUNDS = int(os.environ.get("BENCH_INPROCESS_ROUNDS", "5"))
N = int(os.environ.get("BENCH_INPROCESS_N", "100"))
WARMUP = int(os.environ.get("BENCH_INPROCESS_WARMUP", "20"))
PROFILE = os.environ.get("BENCH_INPROCESS_PROFILE")
SEEDED = int(os.environ.get("BENCH_INPROCESS_SEEDED", "1700"))
SYNCHRONOUS = os.environ.get("BENCH_INPROCESS_SYNCHRONOUS", "")
COMMITS = [0]
PLACEHOLDER = re.compile(r"@@U(\d+)@@")

Request = tuple[bytes, str]
"""A body and its X-Request-Id (for a GET: the query string, and its X-Request-Id)."""


def nhs_number(serial: int) -> tuple[str, int]:
    """The first valid 999 NHS number from ``serial`` on (modulus 11, as bench/intake.lua), and the next
    serial."""
    while True:
        first_nine = f"999{serial:06d}"
        serial += 1
        check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(first_nine)) % 11
        if check != 10:
            return first_nine + ("0" if check == 11 else str(check)), serial


def intake_requests(folder: Path) -> Callable[[int], Request]:
    from bench.wrk import write_template

    template = write_template(folder).read_text()
    serial = 0

    def make(n: int) -> Request:
        nonlocal serial
        text = PLACEHOLDER.sub(lambda m: f"00000abc-0000-4{int(m.group(1)):03x}-8000-{n:012x}", template)
        number, serial = nhs_number(serial)
        return text.replace("@@NHS@@", number).encode(), f"00000abc-0000-4fff-8000-{n:012x}"

    return make


def medreview_requests(_folder: Path) -> Callable[[int], Request]:
    from bench.medreview import review_bundle

    return lambda n: (review_bundle(n), f"00000def-0000-4000-8000-{n:012x}")


def search_requests(_folder: Path) -> Callable[[int], Request]:
    from bench.fhir import LOINC, PATIENTS, _patient

    return lambda n: (
        f"patient=Patient/{_patient(n % PATIENTS)}&code={LOINC}|72514-3&_count=10".encode(),
        f"00000fed-0000-4000-8000-{n:012x}",
    )


SCENARIOS: dict[str, tuple[str, str, str, int, Callable[[Path], Callable[[int], Request]]]] = {
    "intake": ("referral", "POST", "/fhir/$process-message", 201, intake_requests),
    "medreview": ("medreview", "POST", "/fhir/$medication-review", 200, medreview_requests),
    "search": ("medreview", "GET", "/fhir/Observation", 200, search_requests),
}


async def _seed(scenario: str, app: Any, token: str) -> None:
    """What a scenario reads, written first through the same app: ``bench/fhir.py``'s Observations."""
    if scenario != "search":
        return
    from bench.fhir import _observation

    for n in range(SEEDED):
        status, answer = await _call(
            app, "POST", "/fhir/Observation", token, _observation(n), f"00000bee-0000-4000-8000-{n:012x}"
        )
        if status != 201:
            raise RuntimeError(f"seeding: {status}: {answer[:500]!r}")


def _environment(service: str, folder: Path) -> None:
    from bench.referral_intake import ENDPOINT

    for key in [k for k in os.environ if k.startswith((service.upper() + "_", "PAINREVIEW_"))]:
        del os.environ[key]
    os.environ.update(
        {
            f"{service.upper()}_VAR_DIR": str(folder / "var"),
            "REFERRAL_BARS_ENDPOINT": ENDPOINT,
            "PAINREVIEW_AUTH_VAR_DIR": str(folder),
            "PAINREVIEW_AUTH_RATE_PER_MINUTE": "100000000",
            "PAINREVIEW_AUTH_RATE_BURST": "1000000",
            "PAINREVIEW_LOG_LEVEL": "WARNING",
        }
    )


async def _call(
    app: Any, method: str, path: str, token: str, body: bytes, request_id: str
) -> tuple[int, bytes]:
    query = body if method == "GET" else b""
    body = b"" if method == "GET" else body
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/fhir+json"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"x-request-id", request_id.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    status, chunks = 0, []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def _count_commits() -> None:
    """Count every commit of every engine (``COMMITS``); with ``SYNCHRONOUS``, set that pragma too."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    def committed(_conn: Any) -> None:
        COMMITS[0] += 1

    event.listen(Engine, "commit", committed)
    if SYNCHRONOUS:
        if SYNCHRONOUS.upper() not in ("OFF", "NORMAL", "FULL"):
            raise SystemExit(f"BENCH_INPROCESS_SYNCHRONOUS: OFF, NORMAL or FULL, not {SYNCHRONOUS!r}")

        def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            if type(dbapi_connection).__module__.startswith("sqlite3"):
                dbapi_connection.execute(f"PRAGMA synchronous={SYNCHRONOUS.upper()}")

        event.listen(Pool, "checkout", checkout)


async def _measure(scenario: str, folder: Path) -> list[tuple[float, float, float]]:
    from bench.harness import token as mint
    from painreview.standalone import create_service_app
    from shared.web.process import freeze_startup_objects

    _count_commits()

    service, method, path, expect, requests = SCENARIOS[scenario]
    _environment(service, folder)
    make = requests(folder)
    token = mint(folder)
    app = create_service_app(service)
    freeze_startup_objects()
    sent = 0

    async def run(count: int) -> None:
        nonlocal sent
        batch = [make(sent + i) for i in range(count)]
        sent += count
        for body, request_id in batch:
            status, answer = await _call(app, method, path, token, body, request_id)
            if status != expect:
                raise RuntimeError(f"{path}: {status}, expected {expect}: {answer[:500]!r}")

    async with app.router.lifespan_context(app):
        await _seed(scenario, app, token)
        await run(WARMUP)
        per_request = []
        for _ in range(ROUNDS):
            batch = [make(sent + i) for i in range(N)]
            sent += N
            start, kernel = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_stime
            commits = COMMITS[0]
            for body, request_id in batch:
                status, answer = await _call(app, method, path, token, body, request_id)
                if status != expect:
                    raise RuntimeError(f"{path}: {status}, expected {expect}: {answer[:500]!r}")
            system = resource.getrusage(resource.RUSAGE_SELF).ru_stime - kernel
            cpu = 1000 * (time.process_time() - start) / N
            per_request.append((cpu, 1000 * system / N, (COMMITS[0] - commits) / N))
        if PROFILE:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
            await run(N)
            profiler.disable()
            profiler.dump_stats(PROFILE)
        await asyncio.sleep(0.5)  # the relay's last publishes, before the lifespan stops it
    return per_request


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in SCENARIOS:
        print(__doc__)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-inprocess-") as folder:
        per_request = asyncio.run(_measure(argv[0], Path(folder)))
    shown = ", ".join(f"{x[0]:.2f}" for x in per_request)
    total, system, commits = (statistics.median(x[i] for x in per_request) for i in (0, 1, 2))
    print(
        f"{argv[0]}: CPU ms/request over {ROUNDS} rounds of {N}: median {total:.2f} (rounds {shown}); "
        f"of it in the kernel (system time: fsync, sockets, thread hand-offs) median {system:.2f}; "
        f"commits/request median {commits:.2f}"
        + (f"; synchronous={SYNCHRONOUS.upper()}" if SYNCHRONOUS else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
