"""The service evaluation figures from facts (pure): the paper's cohort shape gives its percentages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from services.careplan.domain.activities import received_in_any_version
from services.careplan.domain.catalogue import EVALUATION_SYSTEM, INTERVENTION_SYSTEM, interventions
from services.careplan.domain.descripting import apply_taper_progress, taper_progress
from services.careplan.domain.evaluation import (
    EvaluationFacts,
    Session,
    attendance,
    engaged,
    intervention_shares,
)
from services.careplan.domain.outcomes import Reading
from services.careplan.fhir_mapping.evaluation_report import MEDIAN_EXTENSION, measure_report
from shared.fhir import validate_resource
from tests.support.careplan_cohort import (
    COHORT_SIZE,
    PAPER_COUNTS,
    PAPER_PERCENT,
    received_by,
    whole_percent,
)


def _cohort() -> EvaluationFacts:
    patients = [f"Patient/p{i}" for i in range(COHORT_SIZE)]
    return EvaluationFacts(
        referrals=40,
        invited=38,
        enrolled=dict.fromkeys(patients, date(2017, 9, 1)),
        retained=frozenset(patients[:30]),
        received={
            p: frozenset((INTERVENTION_SYSTEM, code) for code in received_by(i))
            for i, p in enumerate(patients)
        },
    )


def _groups(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["code"]["coding"][0]["code"]: g for g in report["group"]}


def _counts(group: dict[str, Any]) -> dict[str, int]:
    return {p["code"]["coding"][0]["code"]: p["count"] for p in group.get("population", [])}


def _median(group: dict[str, Any]) -> float | None:
    found = [e["valueQuantity"]["value"] for e in group.get("extension", []) if e["url"] == MEDIAN_EXTENSION]
    return found[0] if found else None


def test_the_cohort_helper_matches_the_paper_counts() -> None:
    for code, count in PAPER_COUNTS.items():
        assert sum(code in received_by(i) for i in range(COHORT_SIZE)) == count
        assert whole_percent(count, COHORT_SIZE) == PAPER_PERCENT[code]
        assert interventions()[code].paper_share == PAPER_PERCENT[code]


def test_the_papers_cohort_shape_reproduces_its_percentages_to_the_whole_percent() -> None:
    shares = {s.code: s for s in intervention_shares(_cohort(), interventions())}
    assert {code: shares[code].whole_percent for code in PAPER_PERCENT} == PAPER_PERCENT
    assert shares["pain-management-book"].percent == Decimal("73.5")
    assert shares["voluntary-work"].numerator == 0


def test_a_local_intervention_in_use_gets_its_own_share() -> None:
    facts = EvaluationFacts(
        referrals=0,
        invited=0,
        enrolled=dict.fromkeys(("Patient/a", "Patient/b"), date(2024, 1, 1)),
        retained=frozenset(),
        received={"Patient/a": frozenset({("https://a81001.example/cs", "walking-group")})},
        local_displays={("https://a81001.example/cs", "walking-group"): "Walking group"},
    )
    local = [s for s in intervention_shares(facts, interventions()) if s.setting == "local"]
    assert [(s.display, s.numerator, s.denominator, s.whole_percent) for s in local] == [
        ("Walking group", 1, 2, 50)
    ]


def test_the_measure_report_is_valid_r4_and_carries_recruitment_shares_and_ome() -> None:
    report = measure_report(
        _cohort(),
        interventions(),
        period_start="2017-08-01",
        period_end="2018-08-31",
        generated="2018-09-01T00:00:00Z",
    )
    validate_resource(report, "MeasureReport")
    groups = _groups(report)
    # referred 40, eligible 0, invited 38, consented 0, enrolled 34, engaged: every patient of the
    # cohort shape received at least one intervention (34), retained 30, discharged 0
    assert _counts(groups["recruitment"]) == {
        "referred": 40,
        "eligible": 0,
        "invited": 38,
        "consented": 0,
        "enrolled": 34,
        "engaged": 34,
        "retained": 30,
        "discharged": 0,
    }
    book = groups["intervention-share"]["stratifier"][0]["stratum"][0]
    assert book["value"]["coding"][0]["code"] == "pain-management-book"
    assert [p["count"] for p in book["population"]] == [34, 34, 25]
    assert book["measureScore"]["value"] == 73.5
    assert "measureScore" not in groups["ome-change-6-months"]  # nobody has a figure


def _r(on: str, value: int | None, reason: str | None = None) -> Reading:
    return Reading(date.fromisoformat(on), None if value is None else Decimal(value), reason)


def _taper_versions() -> list[dict[str, Any]]:
    """A plan through a taper: proposed (scheduled), approved (in progress), paused (on hold)."""
    concept = interventions()["de-scripting"].concept()
    plan: dict[str, Any] = {"resourceType": "CarePlan", "status": "active", "activity": []}
    versions = []
    for kind in ("proposed", "approved", "paused"):
        data = {"resourceType": "CarePlan", "status": "active", "note": [{"text": "Pain flare"}]}
        plan = apply_taper_progress(
            plan, taper_progress(kind, data), taper_reference="CarePlan/t1", concept=concept, now="2024-03-01"
        )
        versions.append(plan)
    return versions


def test_a_paused_taper_is_de_scripting_received_and_a_declined_proposal_is_not() -> None:
    versions = _taper_versions()
    assert versions[-1]["activity"][0]["detail"]["status"] == "on-hold"
    descripting = (INTERVENTION_SYSTEM, "de-scripting")
    # started (approved) then paused: received
    assert descripting in received_in_any_version(versions)
    # proposed then declined by the GP (on hold without ever starting): not received
    declined = apply_taper_progress(
        versions[0],
        taper_progress("declined", {"resourceType": "Task", "statusReason": {"text": "Not now"}}),
        taper_reference="CarePlan/t1",
        concept=interventions()["de-scripting"].concept(),
        now="2024-03-02",
    )
    assert declined["activity"][0]["detail"]["status"] == "on-hold"
    assert descripting not in received_in_any_version([versions[0], declined])


def _hand_built() -> EvaluationFacts:
    """Four patients, each figure below worked out by hand (OME in mg/day; see also test_careplan_outcomes).

    a: enrolled 2024-01-15, a paused taper (received de-scripting); reviews: 2023-03-01 200 (outside every
       window), baseline 120 (2024-01-20), 6 months 90 (2024-07-10), 12 months 60 (2025-01-20); PHQ-9 14 at
       2024-01-15 and 9 at 2024-07-20; 3 sessions: 2 finished, 1 cancelled.
    b: enrolled 2024-02-01; baseline review only a lower bound (2024-02-05); 6 months 70 (2024-08-05);
       12 months 40 (2025-02-01); discharged 2025-03-01, not retained; 1 session, finished.
    c: enrolled 2024-03-01; baseline 90 (2024-03-04); no 6-month review; 12 months 0 (2025-03-03): stopped.
       Discharged in 2024 and re-referred: enrolled again 2024-11-01, still enrolled (retained); counted
       once in the cohort, from 2024-03-01. No sessions, no interventions: not engaged.
    d: enrolled 2024-04-01; no review at all; 1 session entered in error (not booked).
    """
    return EvaluationFacts(
        referrals=6,
        eligible=5,
        invited=5,
        consented=4,
        enrolled={
            "Patient/a": date(2024, 1, 15),
            "Patient/b": date(2024, 2, 1),
            "Patient/c": date(2024, 3, 1),
            "Patient/d": date(2024, 4, 1),
        },
        retained=frozenset({"Patient/a", "Patient/c", "Patient/d"}),
        discharged=2,
        received={
            "Patient/a": frozenset(received_in_any_version(_taper_versions())),
            "Patient/d": frozenset({(INTERVENTION_SYSTEM, "physiotherapy")}),
        },
        ome={
            "Patient/a": [
                _r("2023-03-01", 200),
                _r("2024-01-20", 120),
                _r("2024-07-10", 90),
                _r("2025-01-20", 60),
            ],
            "Patient/b": [
                _r("2024-02-05", None, "lower bound (>=): no-fixed-factor"),
                _r("2024-08-05", 70),
                _r("2025-02-01", 40),
            ],
            "Patient/c": [_r("2024-03-04", 90), _r("2024-05-01", 85), _r("2025-03-03", 0)],
        },
        proms={"phq-9": {"Patient/a": [_r("2024-01-15", 14), _r("2024-07-20", 9)]}},
        sessions={
            "Patient/a": [
                Session(date(2024, 2, 1), "finished"),
                Session(date(2024, 3, 1), "finished"),
                Session(date(2024, 4, 1), "cancelled"),
            ],
            "Patient/b": [Session(date(2024, 2, 10), "finished")],
            "Patient/d": [Session(date(2024, 4, 10), "entered-in-error")],
        },
        acceptability={
            "Patient/a": {"affective-attitude": 5, "burden": 2, "self-efficacy": 4},
            "Patient/b": {"affective-attitude": 4, "burden": 4},
            "Patient/c": {"affective-attitude": 3},
            "Patient/x": {"affective-attitude": 1},  # not in the cohort: not counted
        },
        spent=Decimal("150.00"),
    )


def test_the_hand_built_cohort_gives_every_measure() -> None:
    facts = _hand_built()
    report = measure_report(
        facts, interventions(), period_start="2024-01-01", period_end="2025-06-30", generated="2025-07-01"
    )
    validate_resource(report, "MeasureReport")
    groups = _groups(report)
    # engaged: a (sessions, de-scripting), b (a session), d (physiotherapy); c had neither
    assert engaged(facts) == {"Patient/a", "Patient/b", "Patient/d"}
    assert _counts(groups["recruitment"]) == {
        "referred": 6,
        "eligible": 5,
        "invited": 5,
        "consented": 4,
        "enrolled": 4,
        "engaged": 3,
        "retained": 3,
        "discharged": 2,
    }
    shares = {
        s["value"]["coding"][0]["code"]: s for s in groups["intervention-share"]["stratifier"][0]["stratum"]
    }
    # de-scripting: a only (paused after starting) = 1 of 4 = 25.0%
    assert [p["count"] for p in shares["de-scripting"]["population"]] == [4, 4, 1]
    assert shares["de-scripting"]["measureScore"]["value"] == 25.0
    # attendance: booked a 3 + b 1 = 4 (d's entered in error is no booking); attended 2 + 1 = 3;
    # cancelled 1; patients attending 2; attended per cohort patient a 2, b 1, c 0, d 0:
    # mean 3 / 4 = 0.75 -> 0.8, median of 0, 0, 1, 2 = 0.5
    seen = attendance(facts)
    assert (seen.booked, seen.attended, seen.cancelled, seen.patients_attending) == (4, 3, 1, 2)
    assert _counts(groups["attendance"]) == {
        "initial-population": 4,
        "sessions-booked": 4,
        "sessions-attended": 3,
        "sessions-cancelled": 1,
        "patients-attending": 2,
    }
    assert groups["attendance"]["measureScore"]["value"] == 0.8 and _median(groups["attendance"]) == 0.5
    # OME baseline: a 120, c 90 -> mean 105.0, median 105.0; b not computable; d no reading
    baseline = groups["ome-baseline"]
    assert baseline["measureScore"]["value"] == 105.0 and _median(baseline) == 105.0
    counts = _counts(baseline)
    assert (counts["measure-population"], counts["not-computable"], counts["no-reading-in-window"]) == (
        2,
        1,
        1,
    )
    reasons = [
        p["code"].get("text")
        for p in baseline["population"]
        if p["code"]["coding"][0]["code"] == "not-computable"
    ]
    assert reasons == ["lower bound (>=): no-fixed-factor (1)"]
    # 6 months: a 90, b 70 -> 80.0; c and d no reading in window
    assert groups["ome-6-months"]["measureScore"]["value"] == 80.0
    assert _counts(groups["ome-6-months"])["no-reading-in-window"] == 2
    # 12 months: a 60, b 40, c 0 -> 100 / 3 = 33.3, median 40.0; d no reading
    assert (
        groups["ome-12-months"]["measureScore"]["value"] == 33.3 and _median(groups["ome-12-months"]) == 40.0
    )
    # change to 12 months: a -60, c -90 -> mean -75.0; b no baseline figure; d no baseline figure either
    change = groups["ome-change-12-months"]
    assert change["measureScore"]["value"] == -75.0
    assert _counts(change)["measure-population"] == 2 and _counts(change)["no-baseline-figure"] == 2
    # reductions at 12 months over a and c (baselines above 0): a fell 50% (>= 15, >= 50), c stopped
    strata = {
        s["value"]["coding"][0]["code"]: s
        for s in groups["ome-reduction-12-months"]["stratifier"][0]["stratum"]
    }
    assert {k: (v["population"][1]["count"], v["measureScore"]["value"]) for k, v in strata.items()} == {
        "reduced-15": (2, 100.0),
        "reduced-50": (2, 100.0),
        "stopped": (1, 50.0),
    }
    # reductions at 6 months over a alone: a fell 30 of 120 = 25%: >= 15% only
    strata6 = {
        s["value"]["coding"][0]["code"]: s
        for s in groups["ome-reduction-6-months"]["stratifier"][0]["stratum"]
    }
    assert {k: v["population"][1]["count"] for k, v in strata6.items()} == {
        "reduced-15": 1,
        "reduced-50": 0,
        "stopped": 0,
    }
    # PHQ-9 to 6 months: a 9 - 14 = -5 (day 182 is 2024-07-15; 2024-07-20 is 5 days off); others no reading
    assert groups["phq-9-change-6-months"]["measureScore"]["value"] == -5.0
    assert "measureScore" not in groups["peg-change-6-months"]
    # acceptability: a, b, c answered (x is not in the cohort). Affective attitude 5, 4, 3: mean 4.0,
    # median 4.0; burden 2, 4: mean 3.0, median 3.0; self-efficacy a alone: 4.0; ethicality: nobody
    acceptability = groups["acceptability"]
    assert _counts(acceptability) == {"initial-population": 4, "measure-population": 3}
    constructs = {s["value"]["coding"][0]["code"]: s for s in acceptability["stratifier"][0]["stratum"]}
    assert len(constructs) == 7
    summary = {
        code: (s["population"][0]["count"], s.get("measureScore", {}).get("value"), _median(s))
        for code, s in constructs.items()
    }
    assert summary["affective-attitude"] == (3, 4.0, 4.0)
    assert summary["burden"] == (2, 3.0, 3.0)
    assert summary["self-efficacy"] == (1, 4.0, 4.0)
    assert summary["ethicality"] == (0, None, None)
    assert groups["budget-spent"]["measureScore"] == {
        "value": 150.0,
        "unit": "GBP",
        "system": "urn:iso:std:iso:4217",
        "code": "GBP",
    }


def test_every_code_in_the_report_is_defined_in_the_evaluation_code_system() -> None:
    import json
    from pathlib import Path

    data = Path(__file__).parents[3] / "services" / "careplan" / "data" / "codesystem-service-evaluation.json"
    system = json.loads(data.read_text())
    defined = {c["code"]: c for c in system["concept"]}
    assert system["count"] == len(system["concept"])
    report = measure_report(
        _hand_built(),
        interventions(),
        period_start="2024-01-01",
        period_end="2025-06-30",
        generated="2025-07-01",
    )
    used = set()
    for group in report["group"]:
        for concept in [group["code"], *(p["code"] for p in group.get("population", []))]:
            used |= {c["code"] for c in concept["coding"] if c["system"] == EVALUATION_SYSTEM}
        for stratifier in group.get("stratifier", []):
            for stratum in stratifier["stratum"]:
                used |= {
                    c["code"] for c in stratum["value"].get("coding", []) if c["system"] == EVALUATION_SYSTEM
                }
    assert used - set(defined) == set()
    assert all(defined[code].get("definition") for code in used)


def test_staff_time_counts_a_group_session_once_per_practice_and_overall_and_never_guesses_a_length() -> None:
    from services.careplan.domain.evaluation import StaffSession, StaffTime, staff_time

    facts = EvaluationFacts(
        referrals=0,
        invited=0,
        enrolled={},
        retained=frozenset(),
        staff=(
            # A81001: a group of 90 min attended by three patients (one session, 90 min, not 270)
            StaffSession("A81001", "Slot/g1", 90),
            StaffSession("A81001", "Slot/g1", 90),
            StaffSession("A81001", "Slot/g1", 90),
            StaffSession("A81001", "Encounter/e1", 45),
            StaffSession("A81001", "Encounter/e2", None),  # no length: counted, not timed
            # B82002: a one-to-one of 30 min; a group whose second Encounter lost its length: 60 min
            StaffSession("B82002", "Slot/s2", 30),
            StaffSession("B82002", "Slot/g2", None),
            StaffSession("B82002", "Slot/g2", 60),
        ),
    )
    overall, practices = staff_time(facts)
    # A81001: g1 90 + e1 45 = 135 min over 2 timed, e2 unknown; B82002: s2 30 + g2 60 = 90 over 2
    assert practices == [
        StaffTime("A81001", sessions=3, timed=2, length_unknown=1, minutes=135),
        StaffTime("B82002", sessions=2, timed=2, length_unknown=0, minutes=90),
    ]
    assert overall == StaffTime(None, sessions=5, timed=4, length_unknown=1, minutes=225)

    report = measure_report(
        facts, interventions(), period_start="2025-05-01", period_end="2025-05-31", generated="2025-06-01"
    )
    validate_resource(report, "MeasureReport")
    group = _groups(report)["staff-time"]
    assert _counts(group) == {"sessions-held": 5, "sessions-timed": 4, "session-length-unknown": 1}
    assert group["measureScore"]["value"] == 225.0 and group["measureScore"]["code"] == "min"
    strata = {s["value"]["text"]: s for s in group["stratifier"][0]["stratum"]}
    assert {k: s["measureScore"]["value"] for k, s in strata.items()} == {"A81001": 135.0, "B82002": 90.0}
    assert _counts(strata["A81001"])["session-length-unknown"] == 1
