"""FHIR REST benchmark: create / read / search through the real kernel, beside a bare echo and a peer.

The medreview service runs as in production (``pain-review serve medreview`` under uvicorn, one
process, embedded auth with a minted token, the rate limiter set out of the way), on SQLite and on
PostgreSQL (a temporary database, dropped afterwards; skipped when none is reachable). The resource is a
pain-score Observation (LOINC 72514-3) for one of ``PATIENTS`` patients: every create is validated as
R4, stored with history and search index and audited in one transaction; read is ``GET
Observation/{id}`` of one created; search is ``GET Observation?patient=...&code=...&_count=10``.

In the same run, under the same uvicorn and the same load:
- the **baseline**, a bare FastAPI app that echoes the POST body (create) and returns a stored JSON (read
  and search): what any Python HTTP service pays;
- the **peer**, fhirstarter (``bench/peer.py``: an in-memory FastAPI + fhir.resources FHIR server from its
  own venv) serving the same three interactions: where we stand against the Python peer, with
  persistence, history, search index, authorisation, audit and events on our side and none on its.

The load is ``wrk`` (``bench/rest.lua``: a list of requests cycled through, a fresh X-Request-Id each,
``BENCH_CONCURRENCY`` connections, a 1 s warm-up then ``BENCH_FHIR_SECONDS``), a compiled load generator
whose own CPU is reported beside the server's, so the baseline measures the server, not the client.
Read and search run against ``SEEDED`` Observations created first. Prints a table and writes
``bench/results-fhir.json``. Not a test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.harness import (
    CONCURRENCY,
    Server,
    bare_server,
    postgres_database,
    print_table,
    row,
    service_server,
    token,
    wrk_main,
    wrk_report,
)
from bench.peer import peer_server
from bench.wrk import run_requests

RESULTS = Path(__file__).with_name("results-fhir.json")
SECONDS = float(os.environ.get("BENCH_FHIR_SECONDS", "6"))
PATIENTS = 100
SEEDED = 200
BODIES = 1000
LOINC = "http://loinc.org"
OPS = ("create", "read", "search")


def _patient(n: int) -> str:
    return str(uuid.UUID(int=n % PATIENTS + 1))


def _observation(n: int) -> bytes:
    return orjson.dumps(
        {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "survey",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [
                    {
                        "system": LOINC,
                        "code": "72514-3",
                        "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
                    }
                ]
            },
            "subject": {"reference": f"Patient/{_patient(n)}"},
            "effectiveDateTime": f"2026-0{1 + n % 9}-{1 + n % 28:02d}T09:00:00Z",
            "valueQuantity": {
                "value": n % 11,
                "unit": "score",
                "system": "http://unitsofmeasure.org",
                "code": "1",
            },
        }
    )


def _seed(server: Server, base: str, headers: dict[str, str]) -> list[str]:
    """``SEEDED`` Observations created over plain HTTP; their ids (from the body, or the Location)."""
    ids = []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for n in range(SEEDED):
            response = client.post(
                f"{base}/Observation",
                content=_observation(n),
                headers={**headers, "x-request-id": str(uuid.uuid4())},
            )
            if response.status_code != 201:
                raise RuntimeError(f"seeding {server.url}: {response.status_code} {response.text[:600]}")
            location = response.headers.get("location", "")
            ids.append(
                location.split("/Observation/", 1)[1].split("/", 1)[0] if location else response.json()["id"]
            )
    return ids


def _requests(kind: str, ids: list[str]) -> dict[str, list[tuple[str, str, bytes | None]]]:
    """The requests of each interaction for ``kind``: bare, ours or peer (fhirstarter serves at the root)."""
    if kind == "bare":
        return {
            "create": [("POST", "/echo", _observation(n)) for n in range(BODIES)],
            "read": [("GET", "/stored/stored", None)],
            "search": [("GET", "/stored/search", None)],
        }
    base = "/fhir" if kind == "ours" else ""
    return {
        "create": [("POST", f"{base}/Observation", _observation(n)) for n in range(BODIES)],
        "read": [("GET", f"{base}/Observation/{id_}", None) for id_ in ids],
        "search": [
            ("GET", f"{base}/Observation?patient=Patient/{_patient(n)}&code={LOINC}|72514-3&_count=10", None)
            for n in range(PATIENTS)
        ],
    }


def _measure(folder: Path, server: Server, kind: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    ids = [] if kind == "bare" else _seed(server, "/fhir" if kind == "ours" else "", headers)
    results = {}
    for op, requests in _requests(kind, ids).items():
        results[op] = run_requests(
            url=server.url,
            server_pid=server.process.pid,
            requests=requests,
            file=folder / f"{kind}-{op}.tsv",
            headers=headers,
            expect=201 if op == "create" else 200,
            seconds=SECONDS,
            connections=CONCURRENCY,
        )
    return results


def _run() -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-fhir-"))
    report = wrk_report(SECONDS, CONCURRENCY)
    try:
        headers = {"authorization": f"Bearer {token(folder)}", "content-type": "application/fhir+json"}
        with peer_server() as server:
            report["results"]["peer"] = _measure(folder, server, "peer", headers)
        with postgres_database() as pg_url:
            for database, url in (("sqlite", None), ("postgresql", pg_url)):
                if database == "postgresql" and url is None:
                    continue
                with bare_server() as server:  # the baseline right before each, on the same machine state
                    baseline = _measure(folder, server, "bare", headers)
                with service_server("medreview", folder, folder / database, url) as server:
                    ours = _measure(folder, server, "ours", headers)
                report["results"][database] = {"medreview": ours, "bare": baseline}
                for op in OPS:
                    peer = report["results"]["peer"][op]
                    report["rows"].append(
                        row("fhir", database, f"{op} req/s", ours[op], baseline[op], peer=peer)
                    )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return report


def _print(report: dict[str, Any]) -> None:
    print(
        f"fhir: Observation create/read/search, wrk with {CONCURRENCY} connections, {SECONDS} s each after "
        "a 1 s warm-up; bare = echo baseline, peer = fhirstarter (in memory)"
    )
    header = (
        "database",
        "op",
        "ours/s",
        "bare/s",
        "peer/s",
        "÷bare",
        "÷peer",
        "p50 ms",
        "p99 ms",
        "ours CPU ms/req",
        "bare CPU ms/req",
        "peer CPU ms/req",
        "wrk CPU ms/req",
    )
    lines = []
    peer = report["results"]["peer"]
    for database, result in report["results"].items():
        if database == "peer":
            continue
        for op, ours in result["medreview"].items():
            bare = result["bare"][op]
            lines.append(
                (
                    database,
                    op,
                    ours["per_s"],
                    bare["per_s"],
                    peer[op]["per_s"],
                    round(ours["per_s"] / bare["per_s"], 3),
                    round(ours["per_s"] / peer[op]["per_s"], 3),
                    ours["p50_ms"],
                    ours["p99_ms"],
                    ours["server_cpu_ms_per_request"],
                    bare["server_cpu_ms_per_request"],
                    peer[op]["server_cpu_ms_per_request"],
                    ours["wrk_cpu_ms_per_request"],
                )
            )
    print_table(header, lines)


def main() -> dict[str, Any]:
    return wrk_main(RESULTS, _run, _print)


if __name__ == "__main__":
    main()
