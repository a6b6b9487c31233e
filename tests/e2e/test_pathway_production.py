"""The whole pathway end to end, production-shaped: the processes docker-compose.yml runs (migrate, the
token issuer, the GP practice simulator and each service alone, configured by the compose environment),
on PostgreSQL (a database per service) and NATS JetStream, with NHS England's mesh-sandbox, driven by the
demo over HTTP. Then issue 6's check: a high withdrawal score pauses the plan, across both services.

Needs PostgreSQL on 127.0.0.1:5432 and NATS with JetStream on 127.0.0.1:4222: skipped without them,
failed without them under ``CI=true`` (tests/conftest.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from painreview.demo import Pathway, parse_services, run_demo
from services.gpconnect.tables import delivery
from shared.web.clock import write_clock
from tests.e2e.dated_steps import TWO_STRENGTHS, assert_later_steps_are_approved_and_written_on_their_dates
from tests.e2e.decide_roles import assert_a_project_worker_cannot_decide_a_step
from tests.e2e.production import ProductionStack
from tests.e2e.sessions_flow import run_mdt, run_sessions
from tests.support import eventually
from tests.support.compose import app_processes, load_compose

pytestmark = pytest.mark.e2e

FHIR = "application/fhir+json"
PROM_ID = "https://pain-review.example.org/fhir/Id/follow-up-prom"
SOWS = {
    "system": "https://pain-review.example.org/fhir/CodeSystem/medreview-observation",
    "code": "sows-total",
}


def _poll(what: str, probe: Any, deadline_s: float = 120.0) -> Any:
    """``probe`` answers (done, value): the value once done."""

    def done() -> Any:
        seen = probe()
        return seen[1] if seen and seen[0] else None

    return eventually(done, within=deadline_s, every=0.25, what=what)


def test_the_whole_pathway_runs_on_separate_processes_and_a_withdrawal_score_pauses_the_plan(
    stack: ProductionStack,
) -> None:
    with stack.diagnosed():
        token = stack.token(practice="A81001", scope="system/*.cruds")
        lines: list[str] = []
        facts = run_demo(
            None,
            token=token,
            practice="A81001",
            mesh_url=stack.mesh_url,
            echo=lines.append,
            services=stack.services,
            sim_token=load_compose(environ={})["services"]["gp-simulator"]["environment"]["GPSIM_TOKEN"],
            prefer=TWO_STRENGTHS,
        )
        print(stack.timings)
        print("\n".join(lines))
        assert facts["nhs"].startswith("999")
        assert any("new prescription" in line for line in lines)
        assert facts["active_per_opioid"] and set(facts["active_per_opioid"].values()) == {1}
        assert facts["step_orders"] == 2, lines  # step 1: one order per strength (15 + 10 mg)
        assert_a_project_worker_cannot_decide_a_step(stack.services["medreview"], stack.auth, facts, token)
        # The next two proposed steps, approved and written on their dates (the clock moved, no sleeping).
        seen = assert_later_steps_are_approved_and_written_on_their_dates(
            stack.services["medreview"],
            f"{stack.services['gp-simulator']}/practices/A81001",
            token=token,
            sim_token=load_compose(environ={})["services"]["gp-simulator"]["environment"]["GPSIM_TOKEN"],
            clock_file=stack.workdir / "clock.txt",
            facts=facts,
        )
        print("\n".join(seen))
        assert len(seen) == 2, seen

        # Issue 6: a final SOWS total at or above MEDREVIEW_WITHDRAWAL_PAUSE_SCORE (default 11), written to
        # medreview, puts the taper on hold there; taper.paused puts de-scripting on hold in careplan.
        headers = {"Authorization": f"Bearer {token}", "Accept": FHIR}
        medreview, careplan = stack.services["medreview"], stack.services["careplan"]
        score = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [SOWS]},
            "subject": {"reference": f"Patient/{facts['patient']}"},
            "effectiveDateTime": datetime.now(UTC).date().isoformat(),
            "valueInteger": 17,
        }
        posted = httpx.post(
            f"{medreview}/fhir/Observation",
            json=score,
            headers={**headers, "Content-Type": FHIR},
            timeout=30,
        )
        assert posted.status_code == 201, posted.text

        def taper() -> tuple[bool, Any]:
            plan = httpx.get(
                f"{medreview}/fhir/CarePlan/{facts['taper']}", headers=headers, timeout=10
            ).json()
            return plan.get("status") == "on-hold", plan

        paused = _poll("the taper CarePlan on hold in medreview", taper)
        assert "withdrawal score 17" in paused["note"][-1]["text"]

        def descripting() -> tuple[bool, Any]:
            plan = httpx.get(
                f"{careplan}/fhir/CarePlan/{facts['careplan']}", headers=headers, timeout=10
            ).json()
            activity = next((a for a in plan.get("activity", ()) if a.get("id") == "de-scripting"), {})
            detail = activity.get("detail") or {}
            reason = str((detail.get("statusReason") or {}).get("text", ""))
            return detail.get("status") == "on-hold" and "withdrawal score 17" in reason, activity

        activity = _poll("careplan's de-scripting activity on hold (taper.paused over NATS)", descripting)
        assert any("paused" in str(p.get("text", "")).lower() for p in activity["progress"])
        assert {"reference": f"CarePlan/{facts['taper']}"}.items() <= activity["outcomeReference"][0].items()

        # Issue 17: a group session over capacity, attended and missed sessions, and next month's MDT
        # agenda listing the paused taper (taper.paused over NATS), its outcome noted in the plan.
        run_sessions(careplan, token, f"Patient/{facts['patient']}")
        run_mdt(careplan, token, f"Patient/{facts['patient']}", reason="taper-paused")


def test_the_demo_addresses_services_served_alone_and_embedded_ones() -> None:
    services = parse_services("referral=http://127.0.0.1:8001/, gp-simulator=http://127.0.0.1:8005")
    assert services == {"referral": "http://127.0.0.1:8001", "gp-simulator": "http://127.0.0.1:8005"}
    pathway = Pathway("http://127.0.0.1:8000", "t", "A81001", "http://mesh", print, services)
    try:
        assert pathway.address("referral/fhir/Task") == "http://127.0.0.1:8001/fhir/Task"
        assert pathway.address("careplan/fhir/CarePlan") == "http://127.0.0.1:8000/careplan/fhir/CarePlan"
        assert pathway.sim == "http://127.0.0.1:8005/practices/A81001"
    finally:
        pathway.close()
    for bad in ("referral", "billing=http://x", "referral=ftp://x"):
        with pytest.raises(ValueError):
            parse_services(bad)


def test_compose_ports_move_in_every_url_that_names_them() -> None:
    moved = {8000: 18000, 8001: 18001, 8004: 18004, 8005: 18005, 8700: 18700}
    processes = app_processes(environ={}, ports=moved)
    auth, referral, gpconnect = processes["auth"], processes["referral"], processes["gpconnect"]
    assert (auth.port, referral.port) == (18000, 18001)
    assert auth.environment["PAINREVIEW_AUTH_ISSUER"] == "http://127.0.0.1:18000/auth"
    assert "http://localhost:18001/fhir" in auth.environment["PAINREVIEW_AUTH_AUDIENCE"].split()
    assert "http://localhost:8002/fhir" in auth.environment["PAINREVIEW_AUTH_AUDIENCE"].split()
    assert referral.environment["PAINREVIEW_AUTH_JWKS_URL"] == "http://127.0.0.1:18000/auth/jwks.json"
    assert referral.environment["PAINREVIEW_AUTH_AUDIENCE"] == "http://localhost:18001/fhir"
    assert gpconnect.environment["GPCONNECT_SIMULATOR_URL"] == "http://127.0.0.1:18005"
    assert gpconnect.environment["GPCONNECT_MESH_URL"] == "http://127.0.0.1:18700"
    assert referral.environment["REFERRAL_DATABASE_URL"].endswith("@127.0.0.1:5432/referral")


def test_a_concern_pauses_the_taper_and_a_discharge_schedules_a_dated_gp_record_read_on_separate_processes(
    stack: ProductionStack,
) -> None:
    """Issue 17: a concern mid-taper pauses the plan (and careplan's de-scripting, over NATS) and reaches the
    GP system; a discharge schedules the follow-ups, and gpconnect holds each GP record read until its day.
    Then the clock (the stack's test clock file) moves to the 3-month follow-up's day: the GP record is read,
    medreview recomputes the OME and records whether the dose held, careplan the PROMs as of that day."""
    with stack.diagnosed():
        token = stack.token(practice="A81001", scope="system/*.cruds")
        sim_token = load_compose(environ={})["services"]["gp-simulator"]["environment"]["GPSIM_TOKEN"]
        facts = run_demo(
            None,
            token=token,
            practice="A81001",
            mesh_url=stack.mesh_url,
            echo=lambda _: None,
            services=stack.services,
            sim_token=sim_token,
        )
        headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR}
        medreview, careplan = stack.services["medreview"], stack.services["careplan"]
        body = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "kind", "valueCode": "mood"},
                {"name": "severity", "valueInteger": 9},
                {"name": "description", "valueString": "Very low since the last step"},
            ],
        }
        raised = httpx.post(
            f"{medreview}/fhir/CarePlan/{facts['taper']}/$raise-concern",
            json=body,
            headers=headers,
            timeout=30,
        )
        assert raised.status_code == 200, raised.text
        task = next(p["resource"] for p in raised.json()["parameter"] if p["name"] == "task")
        assert task["priority"] == "asap"

        def descripting() -> tuple[bool, Any]:
            plan = httpx.get(
                f"{careplan}/fhir/CarePlan/{facts['careplan']}", headers=headers, timeout=10
            ).json()
            activity = next((a for a in plan.get("activity", ()) if a.get("id") == "de-scripting"), {})
            return (activity.get("detail") or {}).get("status") == "on-hold", activity

        _poll("careplan's de-scripting on hold after the concern (taper.paused over NATS)", descripting)
        sim = stack.services["gp-simulator"]

        def in_gp_system() -> tuple[bool, Any]:
            inbox = httpx.get(
                f"{sim}/practices/A81001/inbox",
                headers={"Authorization": f"Bearer {sim_token}"},
                timeout=10,
            ).json()
            found = [t for t in inbox if t["type"] == "taper-concern" and t["nhsNumber"] == facts["nhs"]]
            return bool(found), found

        _poll("the concern in the GP system's inbox", in_gp_system)

        referral = stack.services["referral"]
        discharged = httpx.post(
            f"{referral}/fhir/Task/{facts['task']}/$discharge",
            json={"resourceType": "Parameters", "parameter": [{"name": "note", "valueString": "Finished"}]},
            headers=headers,
            timeout=30,
        )
        assert discharged.status_code == 200, discharged.text

        def follow_ups() -> tuple[bool, Any]:
            found = httpx.get(
                f"{medreview}/fhir/Task",
                params={"patient": f"Patient/{facts['patient']}", "code": "follow-up-review"},
                headers=headers,
                timeout=10,
            ).json()
            tasks = [e["resource"] for e in found.get("entry", [])]
            return len(tasks) == 2, tasks

        tasks = _poll("the follow-up Tasks in medreview", follow_ups)
        days = sorted(t["executionPeriod"]["start"] for t in tasks)
        engine = sa.create_engine(stack.databases["gpconnect"])
        try:

            def dated_reads() -> tuple[bool, Any]:
                with engine.connect() as conn:
                    rows = conn.execute(
                        sa.select(delivery.c.next_attempt_at).where(
                            delivery.c.kind == "record-read",
                            delivery.c.event_type == "gpconnect.sync-requested.v1",
                            delivery.c.state == "pending",
                        )
                    ).all()
                found = sorted(r.next_attempt_at.date().isoformat() for r in rows)
                return all(day in found for day in days), found

            _poll("gpconnect's GP record reads held until each follow-up's day", dated_reads)

            # The clock moves to the 3-month follow-up's day (medreview's, gpconnect's and the GP system's
            # shared clock file, as tests/e2e/dated_steps.py moves it): gpconnect reads the GP record then,
            # medreview recomputes the OME and records whether the dose held, and careplan (follow-up.recorded
            # over NATS) records the PROMs as of that day.
            three = min(tasks, key=lambda t: t["executionPeriod"]["start"])
            due = datetime.fromisoformat(three["executionPeriod"]["start"]).replace(tzinfo=UTC)
            write_clock(stack.workdir / "clock.txt", due + timedelta(hours=9))

            def record_read() -> tuple[bool, Any]:
                with engine.connect() as conn:
                    rows = conn.execute(
                        sa.select(delivery.c.state, delivery.c.next_attempt_at).where(
                            delivery.c.kind == "record-read",
                            delivery.c.event_type == "gpconnect.sync-requested.v1",
                        )
                    ).all()
                on_the_day = [r.state for r in rows if r.next_attempt_at.date() == due.date()]
                return "done" in on_the_day, on_the_day

            _poll("gpconnect's GP record read on the 3-month follow-up's day", record_read)
        finally:
            engine.dispose()

        def completed() -> tuple[bool, Any]:
            task = httpx.get(f"{medreview}/fhir/Task/{three['id']}", headers=headers, timeout=10).json()
            return task.get("status") == "completed", task

        done = _poll("the 3-month follow-up recorded in medreview", completed)
        outputs = {o["type"]["text"]: o["valueReference"]["reference"] for o in done["output"]}
        held = httpx.get(f"{medreview}/fhir/{outputs['dose-held']}", headers=headers, timeout=10).json()
        code = held["valueCodeableConcept"]["coding"][0]["code"]
        at_discharge, at_follow_up = (c.get("valueQuantity") for c in held["component"])
        # The GP record holds at most the dose the GP approved before the discharge; the code says which way
        # the OME (recomputed from the record read that day) went, or that it is not computable.
        if at_discharge and at_follow_up:
            before, after = at_discharge["value"], at_follow_up["value"]
            assert after <= before
            assert code == ("held" if after == before else "stopped" if after == 0 else "reduced")
            recomputed = httpx.get(
                f"{medreview}/fhir/{outputs['ome-at-follow-up']}", headers=headers, timeout=10
            ).json()
            assert recomputed["valueQuantity"]["value"] == after
        else:
            assert code == "not-computable"
        twelve = next(t for t in tasks if t["id"] != three["id"])
        later = httpx.get(f"{medreview}/fhir/Task/{twelve['id']}", headers=headers, timeout=10).json()
        assert later["status"] == "requested"  # the 12-month one waits for its own day

        def proms() -> tuple[bool, Any]:
            found = httpx.get(
                f"{careplan}/fhir/Observation",
                params={"patient": f"Patient/{facts['patient']}"},
                headers=headers,
                timeout=10,
            ).json()
            ours = {
                i["value"].removeprefix(f"{three['id']}-"): e["resource"]
                for e in found.get("entry", [])
                for i in e["resource"].get("identifier", [])
                if i.get("system") == PROM_ID and i["value"].startswith(f"{three['id']}-")
            }
            return len(ours) == 3, ours

        scored = _poll("careplan's PROMs as of the follow-up (follow-up.recorded over NATS)", proms)
        for measure, observation in scored.items():
            assert observation["effectiveDateTime"] == due.date().isoformat(), measure
            # the demo's patient answered no assessment: each PROM says so, never a guessed score
            assert "valueQuantity" not in observation, measure
            assert observation["dataAbsentReason"]["text"].startswith("Not computable: No response"), measure
