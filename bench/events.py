"""Event backbone benchmark: commit-to-consumer latency and throughput, outbox vs a bare nats-py loop.

Runs, in one go:

* ``bare-core-nats``: nats-py core publish -> subscription callback (no persistence; the floor).
* ``bare-jetstream``: nats-py ``js.publish`` (awaits the PubAck) -> push consumer, explicit ack.
* ``outbox-nats-postgres``: production mode. A producer commits one event per PostgreSQL transaction;
  the outbox relay publishes it to JetStream; the consumer's inbox, in another process (another
  service), records it in its own PostgreSQL database's inbox, and its handler reports the arrival on
  stdout (as ``clock.arrive`` does in-process). Latency: producer commit -> consumer handler.
* ``outbox-inprocess-sqlite``: embedded mode, SQLite files and the in-process transport.

All four are set up at once. Latency: each in turn at a controlled rate (500 events/s by default) for a
fixed time while the others idle. Throughput, in rounds: every scenario's burst (as fast as it goes, one
event per producer transaction) and the outbox scenarios' drain of a backlog (``BENCH_BURST`` events
committed at once: relay, transport and consumer together), each drain right after the bare JetStream
burst of its round. The drain ratio is the median over rounds of drain / that round's bare burst, so the
machine's drift (its speed moves by a third from minute to minute on a shared host) cancels out.
Prints a table and writes ``bench/results-events.json``. Not a test: the numbers depend on the machine.
Environment: ``BENCH_NATS_URL`` (nats://127.0.0.1:4222), ``BENCH_PG_ADMIN_URL``
(postgresql+psycopg://postgres@127.0.0.1:5432/postgres), ``BENCH_RATE``, ``BENCH_SECONDS``, ``BENCH_BURST``,
``BENCH_REPEAT`` (5 rounds; each burst and drain is reported as its median run, with every run's
throughput).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bench.event_scenarios import SCENARIOS, Clock, Send, event_for
from shared.contracts import CloudEvent

RESULTS = Path(__file__).with_name("results-events.json")
RATE = int(os.environ.get("BENCH_RATE", "500"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
BURST = int(os.environ.get("BENCH_BURST", "5000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))  # rounds of bursts and drains
WARMUP = 200
GOALS = {"outbox-nats-postgres": 100.0, "outbox-inprocess-sqlite": 50.0}  # p99 ms at the controlled rate


async def _paced(send: Send, clock: Clock, count: int, rate: float | None, in_flight: int = 64) -> float:
    """Send ``count`` events at ``rate`` per second (None: as fast as possible); wait for all to arrive."""
    events = [event_for(i) for i in range(count)]
    clock.reset([e.id for e in events])
    gate = asyncio.Semaphore(in_flight)
    tasks: list[asyncio.Task[None]] = []

    async def one(event: CloudEvent) -> None:
        async with gate:
            await send(event)

    start = time.monotonic()
    for i, event in enumerate(events):
        if rate is not None:
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(event)))
    await asyncio.gather(*tasks)
    await asyncio.wait_for(clock.all_in.wait(), 120)
    return time.monotonic() - start


async def _drain(send: Send, clock: Clock, count: int) -> float:
    """Commit ``count`` events at once into the outbox, then time the relay and the consumer."""
    events = [event_for(i) for i in range(count)]
    clock.reset([e.id for e in events])
    start = time.monotonic()
    await send.bulk(events)  # type: ignore[attr-defined]
    await asyncio.wait_for(clock.all_in.wait(), 300)
    return time.monotonic() - start


def _summary(clock: Clock, elapsed: float) -> dict[str, float]:
    latencies = sorted((clock.arrived[i] - t) * 1000 for i, t in clock.sent.items() if i in clock.arrived)
    q = statistics.quantiles(latencies, n=100)
    return {
        "events": len(latencies),
        "p50_ms": round(q[49], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(latencies[-1], 2),
        "throughput_per_s": round(len(latencies) / elapsed, 1),
    }


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median throughput, with every run's throughput beside it (others share the machine)."""
    ranked = sorted(runs, key=lambda r: r["throughput_per_s"])
    return {**ranked[len(ranked) // 2], "runs_per_s": [r["throughput_per_s"] for r in runs]}


async def _paced_latency(send: Send, clock: Clock) -> dict[str, Any]:
    await _paced(send, clock, WARMUP, RATE)
    return _summary(clock, await _paced(send, clock, int(RATE * SECONDS), RATE))


async def _round(scenarios: dict[str, tuple[Send, Clock]], runs: dict[str, dict[str, list[Any]]]) -> None:
    """One round of throughput runs. The bare JetStream burst goes right before the drains it is the
    baseline of; the outbox's one-event-per-transaction bursts (seconds each) come after them."""
    fast = [(n, "burst") for n in scenarios if not hasattr(scenarios[n][0], "bulk")]
    drains = [(n, "drain") for n in scenarios if hasattr(scenarios[n][0], "bulk")]
    slow = [(n, "burst") for n, _ in drains]
    for name, kind in fast + drains + slow:
        send, clock = scenarios[name]
        elapsed = await (_drain(send, clock, BURST) if kind == "drain" else _paced(send, clock, BURST, None))
        runs[name].setdefault(kind, []).append(_summary(clock, elapsed))


async def _run() -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {}
    async with AsyncExitStack() as stack:
        scenarios: dict[str, tuple[Send, Clock]] = {}
        for name, scenario in SCENARIOS.items():
            clock = Clock()
            scenarios[name] = (await scenario(stack, clock), clock)
        for name, (send, clock) in scenarios.items():  # latency: one scenario at a time, the others idle
            results[name] = {"paced": await _paced_latency(send, clock)}
        runs: dict[str, dict[str, list[Any]]] = {name: {} for name in scenarios}
        for _ in range(REPEAT):
            await _round(scenarios, runs)
    for name, kinds in runs.items():
        results[name].update({kind: _median_of(summaries) for kind, summaries in kinds.items()})
    bare_runs = [r["throughput_per_s"] for r in runs["bare-jetstream"]["burst"]]
    ratios = {}
    for name in ("outbox-nats-postgres", "outbox-inprocess-sqlite"):
        paired = [
            round(d["throughput_per_s"] / b, 3) for d, b in zip(runs[name]["drain"], bare_runs, strict=True)
        ]
        ratios[name] = {
            "burst_throughput_vs_bare_jetstream": round(
                results[name]["burst"]["throughput_per_s"]
                / results["bare-jetstream"]["burst"]["throughput_per_s"],
                2,
            ),
            # Each drain against the bare burst of its own round, then the median: the machine's speed
            # drifts between rounds, and a ratio of medians taken minutes apart would carry that drift.
            "drain_throughput_vs_bare_jetstream": statistics.median(paired),
            "drain_vs_bare_per_round": paired,
            "paced_p99_vs_bare_jetstream": round(
                results[name]["paced"]["p99_ms"] / results["bare-jetstream"]["paced"]["p99_ms"], 1
            ),
        }
    goals = {
        name: {"p99_ms_goal": goal, "met": results[name]["paced"]["p99_ms"] <= goal}
        for name, goal in GOALS.items()
    }
    goals["throughput"] = {
        "goal": "outbox-nats-postgres drain >= 0.5 of bare-jetstream burst (median over rounds)",
        "met": ratios["outbox-nats-postgres"]["drain_throughput_vs_bare_jetstream"] >= 0.5,
    }
    return {
        "rate_per_s": RATE,
        "seconds": SECONDS,
        "burst_events": BURST,
        "rounds": REPEAT,
        "cpus": os.cpu_count(),
        # Other work on the machine skews every figure: record how busy it was.
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "results": results,
        "ratios": ratios,
        "goals": goals,
    }


def _print(report: dict[str, Any]) -> None:
    rate, seconds, burst = report["rate_per_s"], report["seconds"], report["burst_events"]
    load = report["load_average_1m"]
    print(f"events: {rate}/s for {seconds} s, then a burst of {burst}; {report['cpus']} CPUs, load average")
    print(f"  {load['before']} before and {load['after']} after (other processes skew the figures)")
    header = ("scenario", "p50 ms", "p99 ms", "max ms", "paced /s", "burst /s", "burst p99 ms", "drain /s")
    rows = [
        (
            name,
            r["paced"]["p50_ms"],
            r["paced"]["p99_ms"],
            r["paced"]["max_ms"],
            r["paced"]["throughput_per_s"],
            r["burst"]["throughput_per_s"],
            r["burst"]["p99_ms"],
            r.get("drain", {}).get("throughput_per_s", "-"),
        )
        for name, r in report["results"].items()
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print(
            "  ".join(
                str(x).rjust(w) if i else str(x).ljust(w)
                for i, (x, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    for name, ratio in report["ratios"].items():
        print(
            f"{name}: vs bare JetStream: burst {ratio['burst_throughput_vs_bare_jetstream']}x, "
            f"drain {ratio['drain_throughput_vs_bare_jetstream']}x (rounds: "
            f"{', '.join(str(r) for r in ratio['drain_vs_bare_per_round'])}), "
            f"paced p99 {ratio['paced_p99_vs_bare_jetstream']}x"
        )
    for name, goal in report["goals"].items():
        verdict = "met" if goal["met"] else "NOT met"
        print(f"goal {name}: {verdict} ({goal.get('p99_ms_goal', goal.get('goal'))})")


def main() -> dict[str, Any]:
    report = asyncio.run(_run())
    _print(report)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return report


if __name__ == "__main__":
    main()
