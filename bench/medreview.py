"""``$medication-review`` benchmark: one patient's opioid list reviewed, beside a bare echo of the same body.

The medreview service runs as in production (``pain-review serve medreview``, one uvicorn process,
embedded auth, limiter out of the way) on SQLite and on PostgreSQL (temporary database; skipped when
none is reachable). Each request is a Bundle for a patient of its own: the Patient, three opioid
MedicationRequests with dm+d codes and free-text dosages (morphine 30 mg MR, oxycodone 10 mg MR,
tramadol 50 mg), and a pregabalin MedicationStatement. The service parses the dosages, converts to
oral morphine equivalent, flags the risks (high dose, opioid + gabapentinoid) and stores the total as
an Observation, in one transaction. Baseline: the bare FastAPI echo of the same body (bench.harness).
The load is ``wrk`` (``bench/rest.lua``) cycling through ``BODIES`` such Bundles, ``BENCH_CONCURRENCY``
connections, a 1 s warm-up then ``BENCH_MEDREVIEW_SECONDS``; its own CPU is reported per request.

Prints a table and writes ``bench/results-medreview.json``. Not a test. ``BENCH_MEDREVIEW_SECONDS`` (6).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import orjson

from bench.harness import (
    CONCURRENCY,
    bare_server,
    postgres_database,
    print_table,
    row,
    service_server,
    token,
    wrk_main,
    wrk_report,
)
from bench.wrk import run_requests

RESULTS = Path(__file__).with_name("results-medreview.json")
SECONDS = float(os.environ.get("BENCH_MEDREVIEW_SECONDS", "6"))
BODIES = 1000
DMD = "https://dmd.nhs.uk"
# (dm+d VMP code, name, dosage text, kind) - codes from shared/terminology's medicines table.
MEDICINES = (
    ("36127311000001102", "Morphine 30mg modified-release tablets", "one twice a day", "MedicationRequest"),
    ("36129511000001101", "Oxycodone 10mg modified-release tablets", "one twice a day", "MedicationRequest"),
    (
        "42017811000001106",
        "Tramadol 50mg capsules",
        "one or two four times a day when required",
        "MedicationRequest",
    ),
    ("42135711000001109", "Pregabalin 75mg capsules", "one twice a day", "MedicationStatement"),
)


def review_bundle(n: int) -> bytes:
    patient = str(uuid.uuid4())
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"Patient/{patient}",
            "resource": {
                "resourceType": "Patient",
                "id": patient,
                "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
            },
        }
    ]
    for i, (code, name, dosage, kind) in enumerate(MEDICINES):
        resource: dict[str, Any] = {
            "resourceType": kind,
            "id": f"m{n}-{i}",
            "status": "active",
            "subject": {"reference": f"Patient/{patient}"},
            "medicationCodeableConcept": {
                "coding": [{"system": DMD, "code": code, "display": name}],
                "text": name,
            },
            ("dosage" if kind == "MedicationStatement" else "dosageInstruction"): [{"text": dosage}],
        }
        if kind == "MedicationRequest":
            resource["intent"] = "order"
            resource["authoredOn"] = "2026-01-15"
        entries.append({"fullUrl": f"{kind}/{resource['id']}", "resource": resource})
    return orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})


def _run() -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-medreview-"))
    report = wrk_report(SECONDS, CONCURRENCY)
    bodies = [review_bundle(n) for n in range(BODIES)]
    options: dict[str, Any] = {"seconds": SECONDS, "connections": CONCURRENCY}

    try:
        headers = {"authorization": f"Bearer {token(folder)}", "content-type": "application/fhir+json"}
        with postgres_database() as pg_url:
            for database, url in (("sqlite", None), ("postgresql", pg_url)):
                if database == "postgresql" and url is None:
                    continue
                with bare_server() as server:
                    echoes: list[tuple[str, str, bytes | None]] = [("POST", "/echo", b) for b in bodies]
                    baseline = run_requests(
                        url=server.url,
                        server_pid=server.process.pid,
                        requests=echoes,
                        file=folder / "echo.tsv",
                        headers=headers,
                        expect=201,
                        **options,
                    )
                with service_server("medreview", folder, folder / database, url) as server:
                    reviews: list[tuple[str, str, bytes | None]] = [
                        ("POST", "/fhir/$medication-review", b) for b in bodies
                    ]
                    ours = run_requests(
                        url=server.url,
                        server_pid=server.process.pid,
                        requests=reviews,
                        file=folder / "review.tsv",
                        headers=headers,
                        expect=200,
                        **options,
                    )
                report["results"][database] = {"medreview": ours, "bare": baseline}
                report["rows"].append(row("medreview", database, "$medication-review req/s", ours, baseline))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return report


def _print(report: dict[str, Any]) -> None:
    print(
        f"$medication-review: 4-medicine Bundles, wrk with {CONCURRENCY} connections, "
        f"{SECONDS} s after a warm-up"
    )
    print_table(
        (
            "database",
            "ours/s",
            "bare/s",
            "ratio",
            "p50 ms",
            "p99 ms",
            "ours CPU ms/req",
            "bare CPU ms/req",
            "wrk CPU ms/req",
        ),
        [
            (
                database,
                r["medreview"]["per_s"],
                r["bare"]["per_s"],
                round(r["medreview"]["per_s"] / r["bare"]["per_s"], 3),
                r["medreview"]["p50_ms"],
                r["medreview"]["p99_ms"],
                r["medreview"]["server_cpu_ms_per_request"],
                r["bare"]["server_cpu_ms_per_request"],
                r["medreview"]["wrk_cpu_ms_per_request"],
            )
            for database, r in report["results"].items()
        ],
    )


def main() -> dict[str, Any]:
    return wrk_main(RESULTS, _run, _print)


if __name__ == "__main__":
    main()
