"""The clinical safety hazard log names a test for every control, and every test it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LOG = ROOT / "docs" / "clinical-safety" / "hazard-log.md"
TEST = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
CONTROL = re.compile(r"^\s*- (C\d+\.\d+) ")


def _controls(text: str) -> dict[str, str]:
    """Each control's id and its text (the bullet and its continuation lines)."""
    found: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        match = CONTROL.match(line)
        if match:
            current = match.group(1)
            found[current] = line
        elif current and line.startswith("    ") and not line.lstrip().startswith("- "):
            found[current] += " " + line.strip()
        else:
            current = None
    return found


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_control_names_a_test_and_every_named_test_exists() -> None:
    controls = _controls(LOG.read_text())
    assert len(controls) == LOG.read_text().count("  - C"), "a control was not read"
    assert len(controls) >= 9, "the hazard log's controls were not found"
    missing = []
    for control, text in controls.items():
        named = TEST.findall(text)
        assert named, f"{control} names no test"
        for file, name in named:
            path = ROOT / file
            if not path.is_file() or name not in _test_names(path):
                missing.append(f"{control}: {file}::{name}")
    assert not missing, f"the hazard log names tests that do not exist: {missing}"


def test_the_check_fails_for_a_control_without_a_test_or_with_a_missing_one() -> None:
    text = (
        "- C1.1 A control.\n  Test: none\n- C1.2 Another.\n"
        "    Test: `tests/unit/medreview/test_hazard_log.py::test_nothing_here`\n"
    )
    controls = _controls(text)
    assert not TEST.findall(controls["C1.1"])
    [(file, name)] = TEST.findall(controls["C1.2"])
    assert name not in _test_names(ROOT / file)
