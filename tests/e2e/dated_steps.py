"""Later taper steps take effect on their dates: checked against a running system after the demo (both
modes), by moving the system's clock (``shared.web.clock``: one file read by medreview, gpconnect and the GP
simulator), never by sleeping.

For each of the next ``rounds`` proposed steps: the clock goes to the day its approval Task is due at the
practice (the step's date less the approval lead); the Task reaches the GP system's inbox and the GP approves
it; medreview orders the step, but nothing reaches the GP record before the step's date; the clock goes to
that date and the step's orders (one per strength) are written, each started that day, and the record holds
exactly one set of active authorisations for the opioid: the step's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any, TypeVar

import httpx

from services.medreview.fhir_mapping import StepRecord, step_orders_of, step_references, steps_of
from shared.web.clock import write_clock
from tests.support import eventually

__all__ = ["TWO_STRENGTHS", "assert_later_steps_are_approved_and_written_on_their_dates"]

# Morphine MR 30 mg twice a day (60 mg OME): 10% of it is 6, so step 1 is 25 mg twice a day, 15 + 10 mg
# tablets, and step 2 20 mg twice a day, two tablets again (dm+d MR strengths 5, 10, 15, 30, 60, 100, 200 mg):
# steps in two strengths, each written as two authorisations replacing the set before.
TWO_STRENGTHS = "Morphine 30mg modified-release tablets"

T = TypeVar("T")
FHIR = "application/fhir+json"
LEAD_DAYS = 7  # MEDREVIEW_APPROVAL_LEAD_DAYS's default


def _wait(what: str, probe: Callable[[], T | None], deadline_s: float = 120) -> T:
    return eventually(probe, within=deadline_s, every=0.25, what=what)


def _steps(medreview: httpx.Client, plan_id: str) -> tuple[dict[str, Any], list[StepRecord]]:
    careplan = medreview.get(f"/fhir/CarePlan/{plan_id}").json()
    requests: dict[str, dict[str, Any]] = {}
    for ref in step_references(careplan):
        requests[ref] = medreview.get(f"/fhir/{ref}").json()
        for other in step_orders_of(requests[ref]):
            requests[other] = medreview.get(f"/fhir/{other}").json()
    return careplan, steps_of(careplan, requests)


def _at(day: date) -> datetime:
    return datetime.combine(day, clock_time(9, 0), UTC)


def assert_later_steps_are_approved_and_written_on_their_dates(
    medreview_url: str,
    sim_url: str,
    *,
    token: str,
    sim_token: str,
    clock_file: Path,
    facts: dict[str, Any],
    rounds: int = 2,
) -> list[str]:
    """Take the demo's plan through its next ``rounds`` proposed steps on a moved clock (module doc); what
    each round saw, one line each. ``sim_url``: the simulator's practice URL (``.../practices/<ods>``)."""
    medreview = httpx.Client(
        base_url=medreview_url, timeout=30, headers={"Authorization": f"Bearer {token}", "Accept": FHIR}
    )
    gp = httpx.Client(base_url=sim_url, timeout=30, headers={"Authorization": f"Bearer {sim_token}"})
    nhs, seen = facts["nhs"], set()
    lines = []

    def medicines() -> list[dict[str, Any]]:
        return list(gp.get(f"/patients/{nhs}").json()["medications"])

    try:
        for _ in range(rounds):
            _, steps = _steps(medreview, facts["taper"])
            step = next(st for st in steps if st.pending and st.proposal)
            group = next(m["group"] for m in medicines() if m["replaces"] and m["status"] == "active")
            before = {m["authorisationId"] for m in medicines()}
            due = step.date - timedelta(days=LEAD_DAYS)

            def inbox() -> dict[str, Any] | None:
                tasks = gp.get("/inbox").json()
                return next((t for t in tasks if t["nhsNumber"] == nhs and t["id"] not in seen), None)

            # The day before the Task is due at the practice: it is not in the GP system's inbox.
            write_clock(clock_file, _at(due - timedelta(days=1)))
            for _poll in range(8):  # a few of gpconnect's polls on the moved clock
                assert inbox() is None, "the approval Task reached the practice before its day"
                time.sleep(0.25)
            write_clock(clock_file, _at(due))

            task = _wait(f"step {step.number}'s approval Task in the GP inbox", inbox)
            seen.add(task["id"])
            gp.post(f"/inbox/{task['id']}/approve", json={"reason": "Agreed at review"})

            def ordered() -> StepRecord | None:
                found = next(st for st in _steps(medreview, facts["taper"])[1] if st.index == step.index)
                return found if found.status == "completed" else None

            done = _wait(f"step {step.number} ordered in medreview", ordered)
            assert done.date == step.date, "approved before its date, the step keeps its date"
            # Ordered, but not written: the GP record is as it was until the step's date.
            for _poll in range(8):
                assert {m["authorisationId"] for m in medicines()} == before, "written before its date"
                time.sleep(0.25)
            write_clock(clock_file, _at(step.date))

            def written() -> list[dict[str, Any]] | None:
                new = [
                    m for m in medicines() if m["authorisationId"] not in before and m["status"] == "active"
                ]
                return new if len(new) >= len(done.outcomes) else None

            new = _wait(f"step {step.number}'s prescriptions in the GP record", written)
            assert {m["start"] for m in new} == {step.date.isoformat()}, "not written on the step's date"
            active = [m for m in medicines() if m["status"] == "active" and m["group"] == group]
            assert {m["authorisationId"] for m in active} == {m["authorisationId"] for m in new}, active
            assert len({m.get("changeGroup") or m["authorisationId"] for m in active}) == 1
            lines.append(
                f"step {step.number}: Task {task['id']} due {due}, approved, "
                f"written {step.date} as {len(new)} authorisation(s), the only active {group}"
            )
    finally:
        medreview.close()
        gp.close()
    return lines
