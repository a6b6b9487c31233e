"""``python -m bench [name ...]``: run the registered benchmarks (all of them by default).

Register a benchmark by adding ``(name, module)`` to ``BENCHMARKS``; the module needs a ``main()`` that
prints its table and writes its own ``bench/results-<name>.json``. At the end one summary table across
the benchmarks run (``COLUMNS``: ours, the baseline, the floor and the peer where there is one, ratios,
p50/p99, the server CPU per request of each and the load generator's own) is printed and
written, with the machine's load average before and after and each benchmark's wall time, to
``bench/results.json``.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCHMARKS: list[tuple[str, str]] = [
    ("events", "bench.events"),
    ("gpconnect", "bench.gpconnect"),
    ("referral", "bench.referral"),
    ("fhir", "bench.fhir"),
    ("medreview", "bench.medreview"),
    ("validation", "bench.validation"),
]
RESULTS = Path(__file__).with_name("results.json")
Row = dict[str, Any]


COLUMNS: tuple[tuple[str, str], ...] = (  # (key, heading) of the summary table, in order
    ("benchmark", "benchmark"),
    ("database", "database"),
    ("metric", "metric"),
    ("ours", "ours"),
    ("baseline", "baseline"),
    ("ratio", "ratio"),
    ("floor_ms", "floor ms"),
    ("over_floor", "x floor"),
    ("peer", "peer"),
    ("peer_ratio", "ratio peer"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("cpu_ms", "CPU ms/req"),
    ("baseline_cpu_ms", "baseline CPU"),
    ("peer_cpu_ms", "peer CPU"),
    ("client_cpu_ms", "load gen CPU"),
)


def _row(benchmark: str, database: str, metric: str, ours: Any, baseline: Any = None, **extra: Any) -> Row:
    """A summary line; ``extra`` fills the other columns (``COLUMNS``) that the benchmark measured."""
    ratio = extra.pop("ratio", None)
    if ratio is None and isinstance(ours, int | float) and baseline:
        ratio = round(ours / baseline, 3)
    unknown = set(extra) - {key for key, _ in COLUMNS}
    if unknown:
        raise ValueError(f"not a summary column: {sorted(unknown)}")
    return {
        "benchmark": benchmark,
        "database": database,
        "metric": metric,
        "ours": ours,
        "baseline": baseline,
        "ratio": ratio,
        **extra,
    }


def _events_rows(report: dict[str, Any]) -> list[Row]:
    results, rows = report["results"], []
    bare = results.get("bare-jetstream", {})
    for name, database in (("outbox-nats-postgres", "postgresql"), ("outbox-inprocess-sqlite", "sqlite")):
        if name not in results:
            continue
        paced = results[name]["paced"]
        rows.append(
            _row(
                "events",
                database,
                f"{name} paced {report['rate_per_s']}/s (events/s)",
                paced["throughput_per_s"],
                bare.get("paced", {}).get("throughput_per_s"),
                p50_ms=paced["p50_ms"],
                p99_ms=paced["p99_ms"],
            )
        )
        drain = results[name].get("drain")
        if drain:
            rows.append(
                _row(
                    "events",
                    database,
                    f"{name} drain vs bare JetStream burst (events/s)",
                    drain["throughput_per_s"],
                    bare.get("burst", {}).get("throughput_per_s"),
                    # the median of each round's drain / bare burst (bench/events.py), not of the medians
                    ratio=report["ratios"][name]["drain_throughput_vs_bare_jetstream"],
                    p50_ms=drain["p50_ms"],
                    p99_ms=drain["p99_ms"],
                )
            )
    return rows


def _referral_rows(report: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    intake = report.get("intake", {})
    if "bare-echo" in intake:
        bare = intake["bare-echo"]["runs"]
        for name, result in intake.items():
            if name == "bare-echo":
                continue
            database = "sqlite" if name.endswith("sqlite") else "postgresql"
            for c, r in result["runs"].items():
                label = f"{name.removesuffix('-' + database)} $process-message {c} in flight"
                rows.append(
                    _row(
                        "referral",
                        database,
                        f"{label} (msg/s vs bare echo)",
                        r["per_s"],
                        bare[c]["per_s"],
                        floor_ms=r.get("floor_cpu_ms"),
                        over_floor=r.get("cpu_over_floor"),
                        p50_ms=r["p50_ms"],
                        p99_ms=r["p99_ms"],
                        cpu_ms=r["server_cpu_ms_per_request"],
                        baseline_cpu_ms=bare[c]["server_cpu_ms_per_request"],
                        client_cpu_ms=r.get("wrk_cpu_ms_per_request"),
                    )
                )
    patients = report.get("patients")
    for name, r in report["screen"].items():
        if name.startswith("referral-"):
            n = name.removeprefix("referral-")
            baseline = report["screen"].get(f"bare-echo-{n}", {}).get("seconds")
            rows.append(
                _row(
                    "referral", "sqlite", f"$screen {n} patients (s, lower is better)", r["seconds"], baseline
                )
            )
    if patients and f"referral-{patients}" not in report["screen"]:
        rows.append(_row("referral", "sqlite", f"$screen {patients} patients", "missing"))
    return rows


def _gpconnect_rows(_report: Any) -> list[Row]:
    path = Path(__file__).with_name("results-gpconnect.json")
    report = json.loads(path.read_text())
    return [
        _row(
            "gpconnect",
            "sqlite",
            f"write-back fault run n={report['n']} (changes/s)",
            round(report["n"] / report["seconds"], 1),
        ),
        _row(
            "gpconnect",
            "sqlite",
            "applied exactly once / expected",
            report["applied_exactly_once"],
            report["n"] - report["poisoned"],
        ),
    ]


def _own_rows(report: dict[str, Any]) -> list[Row]:
    rows: list[Row] = report["rows"]
    return rows


SUMMARIES: dict[str, Callable[[Any], list[Row]]] = {
    "events": _events_rows,
    "referral": _referral_rows,
    "gpconnect": _gpconnect_rows,
    "fhir": _own_rows,
    "medreview": _own_rows,
    "validation": _own_rows,
}


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def _print(rows: list[Row]) -> None:
    """The summary table; a column no benchmark of this run filled is left out."""
    columns = [(k, h) for i, (k, h) in enumerate(COLUMNS) if i < 3 or any(r.get(k) is not None for r in rows)]
    lines = [tuple("" if r.get(k) is None else r[k] for k, _ in columns) for r in rows]
    header = tuple(h for _, h in columns)
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines, strict=True)]
    for line in (header, *lines):
        print(
            "  ".join(
                str(x).ljust(w) if i < 3 else str(x).rjust(w)
                for i, (x, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )


def main(argv: list[str]) -> int:
    known = dict(BENCHMARKS)
    chosen = argv or [name for name, _ in BENCHMARKS]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    summary: dict[str, Any] = {"loadavg_before": _loadavg(), "seconds": {}, "rows": [], "failed": {}}
    started = time.monotonic()
    for name in chosen:
        print(f"== {name}", flush=True)
        start = time.monotonic()
        try:
            run: Callable[[], Any] = importlib.import_module(known[name]).main
            report = run()
            summarise: Callable[[Any], list[Row]] = SUMMARIES.get(name, _own_rows)
            summary["rows"] += summarise(report)
        except Exception as exc:  # one broken benchmark must not lose the others' figures
            summary["failed"][name] = f"{type(exc).__name__}: {exc}"[:500]
            print(f"{name} failed: {summary['failed'][name]}", file=sys.stderr)
        summary["seconds"][name] = round(time.monotonic() - start, 1)
    summary["seconds"]["total"] = round(time.monotonic() - started, 1)
    summary["loadavg_after"] = _loadavg()
    print("== summary")
    _print(summary["rows"])
    print(
        f"wall time (s): {summary['seconds']}; /proc/loadavg before {summary['loadavg_before']!r}, "
        f"after {summary['loadavg_after']!r}"
    )
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
