"""Triage at the kernel's unit of work: a referral received for a patient whose records are held here is
triaged in the same transaction (``intake.start_workflow``: the Task, ``referral.received``, then
``triage.triage`` on ``triage.records_held``), as the REST write hook and ``$process-message`` run it.

Each row's expected decision and deciding reasons are worked out by hand from the rules as the
eligibility package's docstring states them (``services/referral/domain/eligibility/__init__.py``,
from BRIEF.md's pathway step 1: adults, chronic non-cancer pain, opioids prescribed long term, at
least three prescriptions; not eligible: illicit drugs only, end-of-life care, pain from cancer), the
reason codes from ``data/codesystem-eligibility-reason.json``. What each decision sets off is the
triage module's docstring: eligible emits ``referral.accepted``; ineligible revokes the ServiceRequest
and emits ``referral.rejected``; needs-review waits for a project worker.

The referral date is 15 June 2024 (the ServiceRequest's authoredOn): 3 calendar months before it is
15 March 2024. Unless a row says otherwise the patient was born on 9 March 1971 (aged 53), was issued
codeine monthly from 1 June 2023 to 1 May 2024 (12 prescriptions) and has chronic low back pain,
active, recorded 20 May 2019.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from services.referral.domain.workflow import REFERRAL_STATUS_SYSTEM
from services.referral.operations.intake import start_workflow
from services.referral.operations.triage import records_held
from tests.support.referral_records import condition, flag, medicine, monthly, patient, request
from tests.support.referral_unit import ReferralUnit, referral_unit

NOW = datetime(2024, 6, 15, 11, 0, tzinfo=UTC)
ADULT = "1971-03-09"
CODEINE_YEAR = monthly(date(2023, 6, 1), 12)
AMLODIPINE_YEAR = monthly(date(2023, 6, 1), 12, medicine("Amlodipine 5mg tablets"))


def back_pain() -> dict[str, Any]:
    return condition("Chronic low back pain")


def typical(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [*CODEINE_YEAR, back_pain(), *extra]


ROWS = [
    # ---- eligible: every rule met, nothing excluding, nothing unknown --------------------------------
    # aged 53; 12 prescriptions, first 1 June 2023 < 15 March 2024, last 1 May 2024 >= 15 March 2024
    ("eligible", ADULT, typical(), "eligible", set()),
    # "an 18th birthday on the referral date counts"
    ("eighteen-today", "2006-06-15", typical(), "eligible", set()),
    # "remission, inactive or resolved do not exclude"
    (
        "cancer-in-remission",
        ADULT,
        typical(condition("Carcinoma of prostate", clinical="remission")),
        "eligible",
        set(),
    ),
    # excluded is "illicit drug use with no opioid prescribed": here opioids are prescribed
    ("illicit-use-and-prescribed", ADULT, typical(condition("Heroin use")), "eligible", set()),
    # ---- ineligible: a rule not met, or an exclusion (the Task's statusReason names it) ------------------
    # 18th birthday on 16 June 2024, the day after the referral: aged 17
    ("under-18", "2006-06-16", typical(), "ineligible", {"under-18"}),
    # medicines held, none an opioid
    ("no-opioid", ADULT, [*AMLODIPINE_YEAR, back_pain()], "ineligible", {"no-opioid-prescribed"}),
    # monthly from 1 January 2023, the last on 1 June 2023: nothing on or after 15 March 2024
    (
        "opioid-not-current",
        ADULT,
        [*monthly(date(2023, 1, 1), 6), back_pain()],
        "ineligible",
        {"opioid-not-current"},
    ),
    # first on 15 March 2024, exactly 3 months before: "exactly 3 months is not more than 3 months"
    (
        "opioid-exactly-3-months",
        ADULT,
        [*monthly(date(2024, 3, 15), 4), back_pain()],
        "ineligible",
        {"opioid-3-months-or-less"},
    ),
    # 10 January and 1 April 2024: one course (gap under 3 months), current, begun before 15 March, but 2
    (
        "two-prescriptions",
        ADULT,
        [request(authored="2024-01-10"), request(authored="2024-04-01"), back_pain()],
        "ineligible",
        {"fewer-than-3-opioid-prescriptions"},
    ),
    # "Excluded: active cancer"
    (
        "active-cancer",
        ADULT,
        typical(condition("Carcinoma of prostate")),
        "ineligible",
        {"active-cancer"},
    ),
    # "Excluded: end-of-life or palliative care" (an active Flag)
    ("end-of-life", ADULT, typical(flag("Palliative care")), "ineligible", {"end-of-life-care"}),
    # "Excluded: illicit drug use with no opioid prescribed" (and no opioid is a rule not met)
    (
        "illicit-use-only",
        ADULT,
        [*AMLODIPINE_YEAR, back_pain(), condition("Heroin use")],
        "ineligible",
        {"no-opioid-prescribed", "illicit-drug-use-only"},
    ),
    # ---- needs-review: "nothing unknown is guessed" ---------------------------------------------
    # "a missing birth date"
    ("no-birth-date", None, typical(), "needs-review", {"birth-date-unknown"}),
    # no medicines at all: no medication record
    ("no-medicines", ADULT, [back_pain()], "needs-review", {"medication-record-missing"}),
    # 2 dated prescriptions (fewer than 3) and 1 undated: "undated ... medicines that could change the
    # outcome"
    (
        "opioid-undated",
        ADULT,
        [request(authored="2024-02-01"), request(authored="2024-04-01"), request(authored=None), back_pain()],
        "needs-review",
        {"opioid-dates-unknown"},
    ),
    # no opioid among the medicines, one with neither code nor name: "unidentifiable medicines that
    # could change the outcome"
    (
        "medicine-unidentified",
        ADULT,
        [*AMLODIPINE_YEAR, request(medicine(), authored="2024-05-01"), back_pain()],
        "needs-review",
        {"medicine-not-recognised"},
    ),
    # "no current pain condition"
    ("no-pain-condition", ADULT, [*CODEINE_YEAR], "needs-review", {"pain-condition-not-recorded"}),
    # cancer recorded without a clinical status: neither active nor in remission
    (
        "cancer-status-unknown",
        ADULT,
        typical(condition("Carcinoma of prostate", clinical=None)),
        "needs-review",
        {"cancer-status-unknown"},
    ),
    # palliative care recorded without a clinical status
    (
        "end-of-life-status-unknown",
        ADULT,
        typical(condition("Palliative care", clinical=None)),
        "needs-review",
        {"end-of-life-status-unknown"},
    ),
]

DECIDING = {"eligible": (), "ineligible": ("excluded", "not-met"), "needs-review": ("unknown",)}
EVENTS = {
    "eligible": ["referral.received.v1", "referral.accepted.v1"],
    "ineligible": ["referral.received.v1", "referral.rejected.v1"],
    "needs-review": ["referral.received.v1"],
}


@pytest.fixture
def referral(tmp_path: Path) -> Iterator[ReferralUnit]:
    unit = referral_unit(tmp_path)
    yield unit
    unit.kernel.engine.dispose()


def _refer(referral: ReferralUnit, birth_date: str | None, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Hold the patient (``Patient/pat-1``) and their records, then receive and triage a referral for
    them, all in one batched unit of work as the REST hook runs it; returns the Task."""
    with referral.unit(batched=True) as uow:
        held = uow.create(patient(birth_date), resource_id="pat-1", activity=None)
        for record in records:
            uow.create(record, resource_id=record["id"], activity=None)
        service_request = uow.create(
            {
                "resourceType": "ServiceRequest",
                "status": "active",
                "intent": "order",
                "subject": {"reference": "Patient/pat-1"},
                "authoredOn": "2024-06-15",
            },
            activity=None,
        )
        task = start_workflow(uow, service_request, held, NOW, records_held(uow, "Patient/pat-1"))
        uow.sign("CREATE")
    return task


def _reasons(task: dict[str, Any], outcomes: tuple[str, ...]) -> set[str]:
    """The codes of the Task's eligibility reasons with one of ``outcomes``."""
    return {
        o["valueCodeableConcept"]["coding"][0]["code"]
        for o in task.get("output", [])
        if any(o["type"]["text"] == f"Eligibility reason ({outcome})" for outcome in outcomes)
    }


@pytest.mark.parametrize(
    ("birth_date", "records", "decision", "deciding"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_triage_decides_by_the_eligibility_rules_and_sets_off_what_the_decision_says(
    referral: ReferralUnit,
    birth_date: str | None,
    records: list[dict[str, Any]],
    decision: str,
    deciding: set[str],
) -> None:
    _refer(referral, birth_date, records)

    [task] = referral.resources("Task")
    state = next(c["code"] for c in task["businessStatus"]["coding"] if c["system"] == REFERRAL_STATUS_SYSTEM)
    assert state == decision
    assert _reasons(task, DECIDING[decision]) == deciding
    if decision == "eligible":  # every rule met: adult, long-term opioid, chronic non-cancer pain
        assert {"adult", "long-term-opioid", "chronic-non-cancer-pain"} <= _reasons(task, ("met",))
    [service_request] = referral.resources("ServiceRequest")
    if decision == "ineligible":  # the reasons that decided it, on the Task; the referral revoked
        assert {c["code"] for c in task["statusReason"]["coding"]} == deciding
        assert service_request["status"] == "revoked"
    else:
        assert "statusReason" not in task
        assert service_request["status"] == "active"
    events = referral.events()
    assert [e["type"] for e in events] == EVENTS[decision]
    assert {e["subject"] for e in events} == {f"ServiceRequest/{service_request['id']}"}


def test_triage_records_every_version_of_the_task_and_signs_them_with_the_referral(
    referral: ReferralUnit,
) -> None:
    """received -> triaged -> the decision (triage docstring): three versions of the Task, in the same
    transaction as the referral, signed by the one Provenance of the act."""
    task = _refer(referral, ADULT, typical())
    assert task["meta"]["versionId"] == "3"
    with referral.unit() as uow:
        history = [uow.vread(f"Task/{task['id']}", n) for n in (1, 2, 3)]
    states = [
        next(c["code"] for c in t["businessStatus"]["coding"] if c["system"] == REFERRAL_STATUS_SYSTEM)
        for t in history
    ]
    assert states == ["received", "triaged", "eligible"]
    assert "output" not in history[0] and history[1]["output"] == history[2]["output"]
    [provenance] = referral.resources("Provenance")
    targets = {t["reference"] for t in provenance["target"]}
    assert {f"Task/{task['id']}/_history/{n}" for n in (1, 2, 3)} <= targets
