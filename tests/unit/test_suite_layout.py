"""The test suite's own layout: a test module imports shared helpers from ``tests/support`` (or a
non-test module beside it), never from a ``conftest.py`` (pytest injects its fixtures) nor from another
``test_*.py`` module (a test module is collected, not a library)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` (under ``root``) imports, resolved to its dotted name (``from x import y``
    counts as ``x`` and as ``x.y``, since ``y`` may be a module)."""
    package = list(path.relative_to(root).parent.parts)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def forbidden(module: str) -> bool:
    """A ``conftest`` or a ``test_*`` module of the test suite."""
    if module.split(".")[0] != "tests":
        return False
    name = module.rsplit(".", 1)[-1]
    return name == "conftest" or name.startswith("test_")


def offenders(root: Path = ROOT) -> dict[str, list[str]]:
    """Each module of ``root``'s test suite that imports a conftest or a test module, with those."""
    return {
        str(path.relative_to(root)): bad
        for path in sorted((root / "tests").rglob("*.py"))
        if (bad := sorted(m for m in imported_modules(path, root) if forbidden(m)))
    }


def test_no_module_of_the_suite_imports_a_conftest_or_another_test_module() -> None:
    found = offenders()
    assert not found, "import these from tests/support instead:\n" + "\n".join(
        f"  {path}: {', '.join(modules)}" for path, modules in found.items()
    )


def test_the_guard_names_an_offender_and_lets_support_imports_through(tmp_path: Path) -> None:
    suite = tmp_path / "tests"
    (suite / "unit").mkdir(parents=True)
    (suite / "unit" / "test_a.py").write_text(
        "from tests.unit.conftest import helper\nfrom tests.support import eventually\n"
    )
    (suite / "unit" / "test_b.py").write_text("from . import test_a\nimport tests.unit.test_a as a\n")
    (suite / "unit" / "test_c.py").write_text("from tests.support.kernel import make_client\n")
    assert offenders(tmp_path) == {
        "tests/unit/test_a.py": ["tests.unit.conftest"],
        "tests/unit/test_b.py": ["tests.unit.test_a"],
    }
