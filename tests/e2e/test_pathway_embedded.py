"""The whole pathway end to end in the embedded mode: `pain-review up` as a real process with the GP
practice simulator mounted and NHS England's mesh-sandbox as a real subprocess, driven by the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from painreview.demo import run_demo
from painreview.simulator_app import TOKEN_FILE
from shared.auth import AuthSettings, mint_local_token
from tests.e2e.dated_steps import TWO_STRENGTHS, assert_later_steps_are_approved_and_written_on_their_dates
from tests.e2e.decide_roles import assert_a_project_worker_cannot_decide_a_step
from tests.e2e.running import CLOCK
from tests.e2e.sessions_flow import run_mdt, run_sessions

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def test_the_demo_cli_learns_the_mesh_address_and_each_run_picks_a_patient_not_yet_referred(
    pathway_system, mesh_sandbox
):
    """As a newcomer runs it, twice: the CLI, no --mesh-url, and the second run walks the pathway anew."""
    base, workdir = pathway_system
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAINREVIEW_", "GPCONNECT_"))}
    patients = []
    for _run in range(2):
        result = subprocess.run(
            [str(BIN / "pain-review"), "demo", "--url", base],
            cwd=workdir,  # where `up` keeps var/ (the demo mints its token with that key)
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"MESH mailbox server: {mesh_sandbox}" in result.stdout
        assert "the whole pathway ran end to end" in result.stdout
        patients.append(next(line for line in result.stdout.splitlines() if "NHS number" in line))
    assert patients[0] != patients[1], "the second run referred the patient of the first again"


def test_the_whole_pathway_runs_from_referral_to_prescription_and_mesh_document(pathway_system, mesh_sandbox):
    base, workdir = pathway_system
    assert httpx.get(f"{base}/gp-simulator/healthz", timeout=5).status_code == 200
    token = mint_local_token(AuthSettings(var_dir=workdir / "var"), practice="A81001", scope="system/*.cruds")
    lines: list[str] = []
    sim_token = (workdir / "var" / TOKEN_FILE).read_text().strip()  # as `pain-review up` keeps it
    facts = run_demo(
        base,
        token=token,
        practice="A81001",
        mesh_url=mesh_sandbox,
        echo=lines.append,
        sim_token=sim_token,
        prefer=TWO_STRENGTHS,
    )
    assert facts["nhs"].startswith("999")
    assert any("new prescription" in line for line in lines)
    # The approved step replaced the GP system's own authorisation: one active authorisation per medicine.
    assert facts["active_per_opioid"] and set(facts["active_per_opioid"].values()) == {1}
    assert facts["step_orders"] == 2, lines  # step 1: one order per strength (15 + 10 mg)
    settings = AuthSettings(var_dir=workdir / "var")
    assert_a_project_worker_cannot_decide_a_step(f"{base}/medreview", settings, facts, token)
    # The next two proposed steps, each approved and written on its date (the clock moved, no sleeping).
    seen = assert_later_steps_are_approved_and_written_on_their_dates(
        f"{base}/medreview",
        f"{base}/gp-simulator/practices/A81001",
        token=token,
        sim_token=sim_token,
        clock_file=workdir / CLOCK,
        facts=facts,
    )
    print("\n".join(seen))
    assert len(seen) == 2, seen

    # Issue 17: a group session over capacity, attended and missed sessions, and next month's MDT agenda.
    run_sessions(f"{base}/careplan", token, f"Patient/{facts['patient']}")
    run_mdt(f"{base}/careplan", token, f"Patient/{facts['patient']}", reason=None)
