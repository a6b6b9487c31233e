"""The repository stands alone: nothing in it reads a folder beside the clone.

A fresh ``git clone`` has nothing beside it, so a path that climbs out of the repository works on the
machine that wrote it and fails for every newcomer. This test reads every tracked text file.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# A path out of the repository: a parent folder named shared, its reference or domain subfolders.
ESCAPES = re.compile(
    r"\.\./shared\b"
    r"|\bshared/(?:reference|domain)\b"
    r"|[\"']shared[\"']\s*/\s*[\"'](?:reference|domain)[\"']"
    r"|\.parent\s*/\s*[\"']shared[\"']"
    r"|parents\[\d+\]\.parent\b"
)
TEXT = {".py", ".md", ".toml", ".yml", ".yaml", ".json", ".csv", ".txt", ".cfg", ".ini", ".sh", ""}


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def test_no_tracked_file_reaches_outside_the_repository() -> None:
    me = Path(__file__).resolve()
    offenders = []
    for path in tracked_files():
        if path.resolve() == me or (path.suffix not in TEXT and path.name not in {"Makefile", "run"}):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if ESCAPES.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


def test_the_pattern_catches_each_way_out() -> None:
    up, out = "..", "shared"  # built here so that this file itself names no path out of the repository
    for line in (
        f'EXAMPLE = Path(__file__).resolve().parents[3].parent / "{out}" / "reference" / "x.json"',
        f'EXAMPLES = ROOT.parent / "{out}"',
        f"see {up}/{out}/domain/BRIEF.md",
        f"figures from {out}/reference/README.md",
    ):
        assert ESCAPES.search(line), line
    assert not ESCAPES.search("from shared.fhir import models")
    assert not ESCAPES.search('DATA = Path(__file__).parent / "data"')


def test_the_copied_fixtures_and_domain_texts_are_in_the_repository() -> None:
    for name in ("ValidationRequest_POST.json", "409-REC_CONFLICT-duplicate.json"):
        assert (ROOT / "tests" / "fixtures" / "bars-examples" / name).is_file()
    for name in ("BRIEF.md", "service-evaluation-paper.txt", "reference-facts.md"):
        assert (ROOT / "docs" / "domain" / name).is_file()
