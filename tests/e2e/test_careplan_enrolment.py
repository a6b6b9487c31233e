"""Against the running system (``pain-review up``): an enrolment event written to the referral service's
outbox becomes a CareTeam and a draft pain management plan, over HTTP, within the latency goal."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.contracts import PATIENT_ENROLLED_V1, new_event
from shared.db import make_engine
from shared.outbox import record_event
from tests.e2e.running import RunningSystem
from tests.support import eventually
from tests.support.careplan import enrolment

pytestmark = pytest.mark.e2e
DEADLINE_SECONDS = 60.0  # a bound on waiting, not a speed goal: speed is measured in bench/


def test_an_enrolment_event_becomes_a_care_team_and_a_draft_plan_over_http(
    embedded_system: RunningSystem,
) -> None:
    headers = {"authorization": f"Bearer {embedded_system.token()}"}  # before the clock starts
    engine = make_engine(f"sqlite:///{embedded_system.workdir / 'var' / 'referral.db'}")
    try:
        with engine.begin() as conn:
            record_event(
                conn,
                new_event(
                    PATIENT_ENROLLED_V1,
                    source="/painreview/referral",
                    subject="EpisodeOfCare/ep-e2e-1",
                    practice="A81001",
                    data=enrolment("e2e-1", "ep-e2e-1"),
                ),
            )
    finally:
        engine.dispose()
    with httpx.Client(base_url=f"{embedded_system.base}/careplan/fhir", headers=headers) as api:

        def plans_of_the_patient() -> list[dict[str, Any]]:
            bundle = api.get("/CarePlan", params={"patient": "Patient/e2e-1"}).json()
            return [e["resource"] for e in bundle.get("entry", [])]

        plans = eventually(
            plans_of_the_patient, within=DEADLINE_SECONDS, what="a plan for the enrolled patient"
        )
        assert plans[0]["status"] == "draft"
        teams = api.get("/CareTeam", params={"patient": "Patient/e2e-1"}).json()
        assert teams["total"] == 1
