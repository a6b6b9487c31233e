"""``python -m bench [name ...]``: run the registered benchmarks (all of them by default).

Register a benchmark by adding ``(name, module)`` to ``BENCHMARKS``; the module needs a ``main()`` that
prints its table and writes its own ``bench/results-<name>.json``.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS: list[tuple[str, str]] = [
    ("events", "bench.events"),
    ("gpconnect", "bench.gpconnect"),
    ("referral", "bench.referral"),
]


def main(argv: list[str]) -> int:
    known = dict(BENCHMARKS)
    chosen = argv or [name for name, _ in BENCHMARKS]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    for name in chosen:
        print(f"== {name}")
        importlib.import_module(known[name]).main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
