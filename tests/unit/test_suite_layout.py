"""The test suite's own layout: a test module imports shared helpers from ``tests/support`` (or a
non-test module beside it), never from a ``conftest.py`` (pytest injects its fixtures), from another
``test_*.py`` module (a test module is collected, not a library), nor from a helper in another folder
of the suite (what several folders share lives in ``tests/support``)."""

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


SHARED = ("tests.support", "tests.fixtures")  # the suite's own libraries: anyone may import them


def forbidden(module: str, package: str = "") -> bool:
    """A ``conftest`` or a ``test_*`` module of the test suite, or a helper module of a folder other
    than ``package`` (the importer's own) and not one of the ``SHARED`` libraries."""
    if module.split(".")[0] != "tests":
        return False
    name = module.rsplit(".", 1)[-1]
    if name == "conftest" or name.startswith("test_"):
        return True
    if module in SHARED or module.startswith(tuple(f"{s}." for s in SHARED)) or module == "tests":
        return False
    return not (module == package or module.startswith(package + "."))


def _package(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).parent.parts)


def offenders(root: Path = ROOT) -> dict[str, list[str]]:
    """Each module of ``root``'s test suite that imports a conftest or a test module, with those."""
    return {
        str(path.relative_to(root)): bad
        for path in sorted((root / "tests").rglob("*.py"))
        if (bad := sorted(m for m in imported_modules(path, root) if forbidden(m, _package(path, root))))
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
    (suite / "unit" / "records.py").write_text("from tests.fixtures import load\n")
    (suite / "unit" / "test_d.py").write_text("from tests.unit.records import patient\n")
    (suite / "e2e").mkdir()
    (suite / "e2e" / "test_e.py").write_text("from tests.unit.records import patient\n")
    assert offenders(tmp_path) == {
        "tests/unit/test_a.py": ["tests.unit.conftest"],
        "tests/unit/test_b.py": ["tests.unit.test_a"],
        "tests/e2e/test_e.py": ["tests.unit.records", "tests.unit.records.patient"],
    }
