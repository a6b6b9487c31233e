"""FHIR REST benchmark: create / read / search through the real kernel, beside a bare FastAPI endpoint.

The medreview service runs as in production (``pain-review serve medreview`` under uvicorn, one
process, embedded auth with a minted token, the rate limiter set out of the way), on SQLite and on
PostgreSQL (a temporary database, dropped afterwards; skipped when none is reachable). The resource is a
pain-score Observation (LOINC 72514-3) for one of ``PATIENTS`` patients: every create is validated as
R4, stored with history and search index and audited in one transaction; read is ``GET
Observation/{id}`` of one created; search is ``GET Observation?patient=...&code=...&_count=10``.

The baseline, in the same run, is a bare FastAPI app under the same uvicorn that echoes the POST body
(create) and returns a stored JSON (read and search). The load comes from this process (httpx,
``BENCH_CONCURRENCY`` in flight, a warm-up first, then ``BENCH_FHIR_SECONDS`` per measurement).

Prints a table and writes ``bench/results-fhir.json``. Not a test.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.harness import (
    Call,
    Server,
    bare_server,
    load,
    loadavg,
    postgres_database,
    print_table,
    row,
    service_server,
    token,
)

RESULTS = Path(__file__).with_name("results-fhir.json")
SECONDS = float(os.environ.get("BENCH_FHIR_SECONDS", "6"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
PATIENTS = 100
LOINC = "http://loinc.org"


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


def _measure(server: Server, headers: dict[str, str], bare: bool) -> dict[str, dict[str, Any]]:
    ids: list[str] = []

    def created(response: httpx.Response) -> None:
        if not bare:
            ids.append(response.json()["id"])

    def create(n: int) -> Call:
        return ("POST", "/echo" if bare else "/fhir/Observation", _observation(n))

    def read(n: int) -> Call:
        return ("GET", "/stored/stored" if bare else f"/fhir/Observation/{ids[n % len(ids)]}", None)

    def search(n: int) -> Call:
        if bare:
            return ("GET", "/stored/search", None)
        query = f"patient=Patient/{_patient(n)}&code={LOINC}|72514-3&_count=10"
        return ("GET", f"/fhir/Observation?{query}", None)

    options: dict[str, Any] = {"seconds": SECONDS, "concurrency": CONCURRENCY}
    return {
        "create": load(server, create, headers, 201, seen=created, **options),
        "read": load(server, read, headers, 200, **options),
        "search": load(server, search, headers, 200, **options),
    }


def _run() -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-fhir-"))
    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "concurrency": CONCURRENCY,
        "seconds": SECONDS,
        "load_average_1m": {"before": loadavg()},
        "results": {},
        "rows": [],
    }
    try:
        headers = {"authorization": f"Bearer {token(folder)}", "content-type": "application/fhir+json"}
        with postgres_database() as pg_url:
            for database, url in (("sqlite", None), ("postgresql", pg_url)):
                if database == "postgresql" and url is None:
                    continue
                with bare_server() as server:  # the baseline right before each, on the same machine state
                    baseline = _measure(server, headers, bare=True)
                with service_server("medreview", folder, folder / database, url) as server:
                    ours = _measure(server, headers, bare=False)
                report["results"][database] = {"medreview": ours, "bare": baseline}
                for op in ("create", "read", "search"):
                    report["rows"].append(row("fhir", database, f"{op} req/s", ours[op], baseline[op]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report["load_average_1m"]["after"] = loadavg()
    return report


def _print(report: dict[str, Any]) -> None:
    print(f"fhir: Observation create/read/search, {CONCURRENCY} in flight, {SECONDS} s each after a warm-up")
    header = ("database", "op", "ours/s", "bare/s", "ratio", "p50 ms", "p99 ms", "ours/CPU s")
    lines = [header]
    for database, result in report["results"].items():
        for op, ours in result["medreview"].items():
            bare = result["bare"][op]
            lines.append(
                (
                    database,
                    op,
                    ours["per_s"],
                    bare["per_s"],
                    round(ours["per_s"] / bare["per_s"], 3),
                    ours["p50_ms"],
                    ours["p99_ms"],
                    ours["per_cpu_s"],
                )
            )
    print_table(header, lines[1:])


def main() -> dict[str, Any]:
    report = _run()
    _print(report)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return report


if __name__ == "__main__":
    main()
