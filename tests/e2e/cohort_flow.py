"""Issue 17: a cohort shaped like the evaluation paper's, enrolled through the running system, its
interventions recorded through careplan's API, and the evaluation's shares read back (both runtime modes).

The cohort is the paper's own: 34 patients and the interventions of Figures 2 and 3 in its proportions
(``tests/support/careplan_cohort.py``, where each count is worked out from the paper). Each patient
is a cohort patient of the GP practice simulator (already seeded: 60% of each practice's patients are on
long-term opioids), referred over BaRS, triaged eligible (a needs-review referral is reviewed eligible by
the project worker, an ineligible one is left and another patient taken), invited, consented and enrolled
by the referral service; careplan makes each plan from the enrolment event. The interventions are
recorded as the evaluation reads them: plan activities in progress or completed (within-session
interventions) and community referrals started (physiotherapy, the relaxation group).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from painreview.demo import DemoFailed, Pathway, refusal
from services.careplan.domain.catalogue import interventions
from shared.fhir import nhs_number_of
from tests.support.careplan import community_referral
from tests.support.careplan_cohort import COHORT_SIZE, PAPER_PERCENT, received_by

__all__ = ["assert_the_papers_shares_within_a_point", "enrol_cohort", "record_interventions"]

FHIR = "application/fhir+json"
SPARE = 12  # cohort patients referred beyond the 34, for any the triage finds ineligible


class PacedPathway(Pathway):
    """The demo's pathway steps, as a client that honours ``429`` and its ``Retry-After`` (the services
    limit each client's rate: 600 a minute by default) rather than failing."""

    def fhir(self, method: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
        for _attempt in range(30):
            if body is not None:
                headers.setdefault("Content-Type", FHIR)
            response = self.http.request(method, self.address(path), json=body, headers=headers)
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("retry-after", "1")))
        if response.status_code >= 400:
            raise DemoFailed(refusal(f"{method} {path}", response))
        return response


def _states(pathway: Pathway) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each referred patient's NHS number -> their referral Task's state and the Task (one sweep: two
    searches, whatever the cohort's size)."""
    patients = pathway.fhir("GET", "referral/fhir/Patient?_count=200").json()
    nhs_of = {
        f"Patient/{e['resource']['id']}": nhs_number_of(e["resource"]) for e in patients.get("entry") or ()
    }
    tasks = pathway.fhir("GET", "referral/fhir/Task?_count=200").json()
    found = {}
    for entry in tasks.get("entry") or ():
        task = entry["resource"]
        nhs = nhs_of.get(str((task.get("for") or {}).get("reference")))
        codes = [c.get("code") for c in (task.get("businessStatus") or {}).get("coding") or ()]
        if nhs and codes:
            found[str(nhs)] = (str(codes[0]), task)
    return found


def enrol_cohort(
    url: str | None,
    *,
    token: str,
    sim_token: str,
    practice: str,
    mesh_url: str,
    services: Mapping[str, str] | None = None,
    size: int = COHORT_SIZE,
    deadline_s: float = 120.0,
) -> list[str]:
    """Refer, triage, invite, consent and enrol ``size`` of the practice's simulated cohort patients through
    the referral service; answer their ``Patient/<id>`` in careplan (each with a plan), in enrolment order."""
    pathways: list[Pathway] = []
    try:
        first = PacedPathway(url, token, practice, mesh_url, lambda _: None, services, sim_token=sim_token)
        pathways.append(first)
        listed = first.gp.get(f"{first.sim}/patients", params={"group": "cohort", "limit": 200}, timeout=30)
        listed.raise_for_status()
        candidates = [p for p in listed.json() if any(m["status"] == "active" for m in p["medications"])]
        assert len(candidates) >= size + SPARE, f"the simulator has {len(candidates)} cohort patients"
        for patient in candidates[: size + SPARE]:
            pathway = first if not first.facts else None
            if pathway is None:
                pathway = PacedPathway(
                    url, token, practice, mesh_url, lambda _: None, services, sim_token=sim_token
                )
                pathways.append(pathway)
            pathway.facts["nhs"] = patient["nhsNumber"]
            pathway.refer()  # every referral first: triage runs while the next is sent
        enrolled: list[Pathway] = []
        waiting = {p.facts["nhs"]: p for p in pathways}
        started = time.monotonic()
        while len(enrolled) < size and waiting and time.monotonic() - started < deadline_s:
            for nhs, (state, task) in _states(first).items():
                pathway = waiting.get(nhs)
                if pathway is None:
                    continue
                if state == "needs-review":  # the project worker reviews it and finds it eligible
                    pathway.fhir(
                        "POST",
                        f"referral/fhir/Task/{task['id']}/$transition",
                        {
                            "resourceType": "Parameters",
                            "parameter": [{"name": "status", "valueCode": "eligible"}],
                        },
                    )
                elif state in ("eligible", "ineligible"):
                    del waiting[nhs]
                    if state == "eligible" and len(enrolled) < size:
                        pathway.facts["task"] = task["id"]
                        pathway.facts["patient"] = str(task["for"]["reference"]).removeprefix("Patient/")
                        pathway.invite()
                        pathway.consent()
                        pathway.enrol()
                        enrolled.append(pathway)
            time.sleep(0.5)
        assert len(enrolled) == size, f"{len(enrolled)} of {size} enrolled in {deadline_s:.0f} s"
        for pathway in enrolled:
            pathway.care_team()  # waits for careplan's CareTeam and draft plan from the enrolment event
        return [f"Patient/{p.facts['patient']}" for p in enrolled]
    finally:
        for pathway in pathways:
            pathway.close()


def _send(api: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, waited out and sent again while the service answers 429 (its ``Retry-After``)."""
    for _attempt in range(30):
        response = api.request(method, url, **kwargs)
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("retry-after", "1")))
    return response


def _plan(api: httpx.Client, patient: str) -> dict[str, Any]:
    found = _send(api, "GET", "CarePlan", params={"patient": patient}).json()
    [plan] = [e["resource"] for e in found.get("entry") or ()]
    return dict(plan)


def record_interventions(careplan: str, token: str, patients: list[str]) -> None:
    """Patient ``i`` receives :func:`received_by` ``(i)``: within-session interventions as the plan's
    activities (in progress or completed), community ones as referrals started (£50 each)."""
    catalogue = interventions()
    headers = {"authorization": f"Bearer {token}", "content-type": FHIR, "accept": FHIR}
    with httpx.Client(base_url=f"{careplan}/fhir/", headers=headers, timeout=30) as api:
        for index, patient in enumerate(patients):
            received = received_by(index)
            activities = [
                {
                    "detail": {
                        "code": catalogue[code].concept(),
                        "status": "completed" if i % 2 else "in-progress",
                    }
                }
                for i, code in enumerate(c for c in received if catalogue[c].setting == "within-session")
            ]
            for _attempt in range(5):  # the plan may change under us (412): read it again
                plan = _plan(api, patient)
                edited = _send(
                    api,
                    "PUT",
                    f"CarePlan/{plan['id']}",
                    json={**plan, "activity": [*(plan.get("activity") or []), *activities]},
                    headers={"if-match": f'W/"{plan["meta"]["versionId"]}"'},
                )
                if edited.status_code != 412:
                    break
            assert edited.status_code == 200, edited.text
            for code in (c for c in received if catalogue[c].setting == "community"):
                made = _send(
                    api,
                    "POST",
                    "ServiceRequest",
                    json=community_referral(patient.removeprefix("Patient/"), code, "50.00", "started"),
                )
                assert made.status_code == 201, made.text


def assert_the_papers_shares_within_a_point(careplan: str, token: str, practice: str) -> dict[str, float]:
    """``$evaluate-measure`` over the practice for the month to tomorrow: the cohort is the 34 and each
    intervention's share is within one percentage point of the paper's (Figures 2 and 3)."""
    today = datetime.now(UTC).date()
    with httpx.Client(headers={"authorization": f"Bearer {token}", "accept": FHIR}, timeout=60) as api:
        answer = _send(
            api,
            "GET",
            f"{careplan}/fhir/Measure/service-evaluation/$evaluate-measure",
            params={
                "periodStart": (today - timedelta(days=30)).isoformat(),
                "periodEnd": (today + timedelta(days=1)).isoformat(),
                "practice": practice,
            },
        )
    assert answer.status_code == 200, answer.text
    groups = {g["code"]["coding"][0]["code"]: g for g in answer.json()["group"]}
    recruitment = {p["code"]["coding"][0]["code"]: p["count"] for p in groups["recruitment"]["population"]}
    assert recruitment["enrolled"] == COHORT_SIZE, recruitment
    strata = {
        s["value"]["coding"][0]["code"]: s for s in groups["intervention-share"]["stratifier"][0]["stratum"]
    }
    shares = {code: float(strata[code]["measureScore"]["value"]) for code in PAPER_PERCENT}
    for code, percent in PAPER_PERCENT.items():
        assert abs(Decimal(str(shares[code])) - percent) <= 1, (code, shares[code], percent)
    return shares
