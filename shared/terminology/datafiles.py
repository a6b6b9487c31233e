"""Read the versioned CSV data files shipped in ``shared/terminology/data``.

Each file opens with ``# key: value`` comment lines naming its table, version and source, then a CSV header.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

__all__ = ["DataFile", "read_data_file"]


@dataclass(frozen=True, slots=True)
class DataFile:
    """A data file's header metadata (first value of each ``# key:`` line) and its rows."""

    name: str
    meta: Mapping[str, str]
    rows: tuple[Mapping[str, str], ...]


def read_data_file(name: str) -> DataFile:
    """Read ``data/<name>``; blank cells are empty strings, surrounding spaces are stripped."""
    text = resources.files("shared.terminology").joinpath("data", name).read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            # "# key: value" starts a field; deeper-indented comment lines continue a value and are skipped.
            key, sep, value = line[1:].partition(":")
            if sep and not key.startswith("  ") and " " not in key.strip() and key.strip() not in meta:
                meta[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    reader = csv.DictReader(body)
    rows = tuple({k.strip(): (v or "").strip() for k, v in row.items()} for row in reader)
    return DataFile(name=name, meta=meta, rows=rows)
