"""A concern raised mid-taper that pauses the plan, answered in the GP system, and a discharge follow-up that
re-reads the GP record when its day comes: `pain-review up` as a real process with the GP practice
simulator, after the demo's pathway, with a movable clock (MEDREVIEW_ and GPCONNECT_CLOCK_FILE) moved on past
the follow-up's date; nothing sleeps but the polls for effects."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from painreview.demo import run_demo
from painreview.simulator_app import TOKEN_FILE
from services.medreview.domain.follow_up import add_months
from shared.auth import AuthSettings, mint_local_token
from shared.web.clock import write_clock
from tests.e2e.running import free_port, wait_healthy
from tests.support import eventually

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
FHIR = "application/fhir+json"
DEADLINE_S = 120.0  # a bound on waiting, not a speed goal


@pytest.fixture(scope="module")
def clocked_system(
    tmp_path_factory: pytest.TempPathFactory,
    mesh_sandbox: str,
) -> Iterator[tuple[str, Path, Path]]:
    workdir = tmp_path_factory.mktemp("contact")
    clock = workdir / "clock"  # no file yet: the system clock until the test writes one
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PAINREVIEW_", "REFERRAL_", "CAREPLAN_", "MEDREVIEW_", "GPCONNECT_", "GPSIM_"))
    }
    env.update(
        {
            "GPCONNECT_SIMULATOR_URL": f"{base}/gp-simulator",
            "GPCONNECT_MESH_URL": mesh_sandbox,
            "GPCONNECT_DECISION_POLL_S": "0.5",
            "GPSIM_PATIENTS_PER_PRACTICE": "300",
            "MEDREVIEW_CLOCK_FILE": str(clock),
            "GPCONNECT_CLOCK_FILE": str(clock),
            "MEDREVIEW_DUE_CHECK_SECONDS": "1",
        }
    )
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "pain-review"), "up", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"{base}/healthz", process)
        yield base, workdir, clock
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_a_concern_pauses_the_taper_and_a_discharge_follow_up_reads_the_gp_record_when_due(
    clocked_system: tuple[str, Path, Path],
    mesh_sandbox: str,
) -> None:
    base, workdir, clock = clocked_system
    token = mint_local_token(AuthSettings(var_dir=workdir / "var"), practice="A81001", scope="system/*.cruds")
    sim_token = (workdir / "var" / TOKEN_FILE).read_text().strip()
    facts = run_demo(
        base, token=token, practice="A81001", mesh_url=mesh_sandbox, echo=lambda _: None, sim_token=sim_token
    )
    with contextlib.ExitStack() as stack:
        headers = {"authorization": f"Bearer {token}", "content-type": FHIR}
        api = stack.enter_context(httpx.Client(base_url=base, headers=headers, timeout=30))
        sim = stack.enter_context(
            httpx.Client(
                base_url=f"{base}/gp-simulator/practices/A81001",
                headers={"authorization": f"Bearer {sim_token}"},
                timeout=30,
            )
        )

        # a withdrawal concern rated 8/10 mid-taper: an asap Task to the practice, and the plan paused
        taper = facts["taper"]
        raised = api.post(
            f"/medreview/fhir/CarePlan/{taper}/$raise-concern",
            json={
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "kind", "valueCode": "withdrawal"},
                    {"name": "severity", "valueInteger": 8},
                    {"name": "description", "valueString": "Sweating and restless since the last reduction"},
                    {"name": "raisedBy", "valueCode": "project-worker"},
                ],
            },
        )
        assert raised.status_code == 200, raised.text
        task = next(p["resource"] for p in raised.json()["parameter"] if p["name"] == "task")
        assert task["priority"] == "asap"
        assert api.get(f"/medreview/fhir/CarePlan/{taper}").json()["status"] == "on-hold"

        # it reaches the GP system; the GP answers there, and the answer comes back
        def in_gp_inbox() -> dict[str, Any] | None:
            inbox = sim.get("/inbox").json()
            return next(
                (t for t in inbox if t["type"] == "taper-concern" and t["nhsNumber"] == facts["nhs"]), None
            )

        delivered = eventually(
            in_gp_inbox, within=DEADLINE_S, every=0.3, what="the concern in the GP system's inbox"
        )
        sim.post(f"/inbox/{delivered['id']}/approve", json={"reason": "GP phoned the patient"})
        eventually(
            lambda: api.get(f"/medreview/fhir/Task/{task['id']}").json()["status"] == "completed",
            within=DEADLINE_S,
            every=0.3,
            what="the concern answered (gp.task-completed)",
        )

        # discharge: follow-ups 3 and 12 months on, each with the OME at discharge
        discharged = api.post(
            f"/referral/fhir/Task/{facts['task']}/$discharge",
            json={"resourceType": "Parameters", "parameter": [{"name": "note", "valueString": "Finished"}]},
        )
        assert discharged.status_code == 200, discharged.text
        patient = f"Patient/{facts['patient']}"

        def follow_ups() -> list[dict[str, Any]] | None:
            found = api.get(
                "/medreview/fhir/Task", params={"patient": patient, "code": "follow-up-review"}
            ).json()
            tasks = sorted(
                (e["resource"] for e in found.get("entry", [])), key=lambda t: t["executionPeriod"]["start"]
            )
            return tasks if len(tasks) == 2 else None

        three, _twelve = eventually(follow_ups, within=DEADLINE_S, every=0.3, what="the follow-up Tasks")
        due = datetime.fromisoformat(three["executionPeriod"]["start"]).replace(tzinfo=UTC)
        today = datetime.now(UTC).date()
        assert due.date() == add_months(today, 3) or due.date() == add_months(today - timedelta(days=1), 3)

        # the clock moves past the 3-month date: gpconnect reads the GP record; medreview records the dose
        write_clock(clock, due + timedelta(hours=9))

        def dose_held() -> list[dict[str, Any]] | None:
            found = api.get(
                "/medreview/fhir/Observation",
                params={
                    "patient": patient,
                    "code": "https://pain-review.example.org/fhir/CodeSystem/medreview-observation"
                    "|dose-held-after-discharge",
                },
            ).json()
            return [e["resource"] for e in found.get("entry", [])] or None

        [held] = eventually(
            dose_held, within=DEADLINE_S, every=0.3, what="the follow-up's dose-held Observation"
        )
        # the GP record holds the dose the GP approved (written on the step's date, which may fall after the
        # discharge): never more than at discharge; the code says which way it went
        discharge_ome, follow_up_ome = (c.get("valueQuantity") for c in held["component"])
        code = held["valueCodeableConcept"]["coding"][0]["code"]
        if discharge_ome and follow_up_ome:
            before, after = discharge_ome["value"], follow_up_ome["value"]
            assert after <= before
            assert code == ("held" if after == before else "stopped" if after == 0 else "reduced")
        else:  # a dose in the record that the engine refuses: recorded as not computable, no figure
            assert code == "not-computable"
        assert api.get(f"/medreview/fhir/Task/{three['id']}").json()["status"] == "completed"

        # careplan hears follow-up.recorded and records each PROM as of the follow-up's day; this patient
        # answered no assessment, so each says it is not computable and why, never a guessed score
        def proms() -> dict[str, dict[str, Any]] | None:
            found = api.get("/careplan/fhir/Observation", params={"patient": patient}).json()
            prom_id = "https://pain-review.example.org/fhir/Id/follow-up-prom"
            at_follow_up = {
                i["value"].removeprefix(f"{three['id']}-"): e["resource"]
                for e in found.get("entry", [])
                for i in e["resource"].get("identifier", [])
                if i.get("system") == prom_id and i["value"].startswith(f"{three['id']}-")
            }
            return at_follow_up if len(at_follow_up) == 3 else None

        scored = eventually(proms, within=DEADLINE_S, every=0.3, what="the follow-up's PROMs")
        for observation in scored.values():
            assert "valueQuantity" not in observation
            assert observation["dataAbsentReason"]["text"] == (
                "Not computable: No response to this measure has been recorded"
            )
