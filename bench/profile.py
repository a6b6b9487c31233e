"""``python -m bench.profile FILE [N] [FILTER]``: sum py-spy's collapsed stacks by function.

Prints the top N (30) functions by inclusive share of the samples (each function counted once per
stack) and by self share (the frame on top), optionally only those whose frame contains FILTER
(e.g. ``shared/`` or ``sqlalchemy``). The input is ``py-spy record --format raw`` output, as written
by ``BENCH_PYSPY`` runs of ``bench.referral``.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def summarise(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    total, inclusive, own = 0, Counter[str](), Counter[str]()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples, frames = int(count), stack.split(";")
        total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    return total, inclusive, own


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    path, top = Path(argv[0]), int(argv[1]) if len(argv) > 1 else 30
    wanted = argv[2] if len(argv) > 2 else ""
    total, inclusive, own = summarise(path)
    print(f"{total} samples in {path}")
    for title, counts in (("inclusive", inclusive), ("self", own)):
        print(f"-- {title}")
        shown = [(f, n) for f, n in counts.most_common() if wanted in f][:top]
        for frame, samples in shown:
            print(f"{100 * samples / total:6.1f}%  {frame[:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
