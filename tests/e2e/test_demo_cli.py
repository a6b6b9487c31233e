"""``pain-review demo`` as a newcomer meets it: a failure is one line that says what to do."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.running import BIN, free_port

pytestmark = pytest.mark.e2e


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pain-review"), "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_demo_against_nothing_running_says_in_one_line_to_start_the_system() -> None:
    result = _demo("--url", f"http://127.0.0.1:{free_port()}", "--token", "unused", "--mesh-url", "http://x")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: step 1") and "pain-review up" in line and "--url" in line


def test_a_demo_with_a_bad_services_option_says_how_to_write_it() -> None:
    result = _demo("--services", "referral:8001")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "give service=http://host:port" in result.stderr
