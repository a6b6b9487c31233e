"""The service evaluation figures from facts (pure): the paper's cohort shape gives its percentages."""

from __future__ import annotations

from decimal import Decimal
from xml.etree import ElementTree

from services.careplan.catalogue import INTERVENTION_SYSTEM, interventions
from services.careplan.chart import evaluation_chart_svg
from services.careplan.evaluation import (
    EvaluationFacts,
    OmeReview,
    intervention_shares,
    measure_report,
    ome_change,
    ome_not_computable,
)
from shared.fhir import validate_resource
from tests.unit.careplan.careplan_cohort import (
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
        enrolled=frozenset(patients),
        retained=frozenset(patients[:30]),
        received={
            p: frozenset((INTERVENTION_SYSTEM, code) for code in received_by(i))
            for i, p in enumerate(patients)
        },
    )


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
        enrolled=frozenset({"Patient/a", "Patient/b"}),
        retained=frozenset(),
        received={"Patient/a": frozenset({("https://a81001.example/cs", "walking-group")})},
        local_displays={("https://a81001.example/cs", "walking-group"): "Walking group"},
    )
    local = [s for s in intervention_shares(facts, interventions()) if s.setting == "local"]
    assert [(s.display, s.numerator, s.denominator, s.whole_percent) for s in local] == [
        ("Walking group", 1, 2, 50)
    ]


def test_ome_change_is_the_mean_of_latest_minus_first_over_patients_reviewed_twice() -> None:
    reviews = {
        "Patient/a": [OmeReview("2024-05-01", Decimal(60)), OmeReview("2024-01-01", Decimal(120))],
        "Patient/b": [
            OmeReview("2024-01-01", Decimal(90)),
            OmeReview("2024-03-01", Decimal(80)),
            OmeReview("2024-06-01", Decimal(70)),
        ],
        "Patient/c": [OmeReview("2024-01-01", Decimal(200))],
    }
    assert ome_change(reviews) == (2, Decimal(210), Decimal(130), Decimal("-40.0"))


def test_the_measure_report_is_valid_r4_and_carries_recruitment_shares_and_ome() -> None:
    report = measure_report(
        _cohort(),
        interventions(),
        period_start="2017-08-01",
        period_end="2018-08-31",
        generated="2018-09-01T00:00:00Z",
    )
    validate_resource(report, "MeasureReport")
    recruitment, shares, ome, *_ = report["group"]
    assert [p["count"] for p in recruitment["population"]] == [40, 38, 34, 30]
    book = shares["stratifier"][0]["stratum"][0]
    assert book["value"]["coding"][0]["code"] == "pain-management-book"
    assert [p["count"] for p in book["population"]] == [34, 34, 25]
    assert book["measureScore"]["value"] == 73.5
    assert "measureScore" not in ome


def test_the_chart_is_well_formed_svg_with_one_bar_per_intervention() -> None:
    shares = intervention_shares(_cohort(), interventions())
    svg = evaluation_chart_svg(
        shares, title="Interventions & <shares>", subtitle="2017-2018", recruitment=[("Enrolled", 34)]
    )
    root = ElementTree.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    bars = root.findall("{http://www.w3.org/2000/svg}rect")[1:]
    assert len(bars) == len(interventions())
    assert "74%" in svg and "Enrolled: 34" in svg


def test_a_review_whose_total_was_a_lower_bound_is_never_used_as_a_figure() -> None:
    reviews = {
        "Patient/a": [OmeReview("2024-01-01", Decimal(120)), OmeReview("2024-05-01", Decimal(60))],
        # the first review could not compute every opioid's dose: a change from it would be a guess
        "Patient/b": [OmeReview("2024-01-01", None), OmeReview("2024-06-01", Decimal(70))],
        # a lower bound in between changes nothing: the first and latest are both figures
        "Patient/c": [
            OmeReview("2024-01-01", Decimal(90)),
            OmeReview("2024-02-01", None),
            OmeReview("2024-03-01", Decimal(80)),
        ],
    }
    # a: 120 -> 60, c: 90 -> 80; mean change ((60 - 120) + (80 - 90)) / 2 = -35.0
    assert ome_change(reviews) == (2, Decimal(210), Decimal(140), Decimal("-35.0"))
    assert ome_not_computable(reviews) == 1
    facts = EvaluationFacts(
        referrals=3, invited=3, enrolled=frozenset(reviews), retained=frozenset(reviews), reviews=reviews
    )
    report = measure_report(
        facts, interventions(), period_start="2024-01-01", period_end="2024-12-31", generated="2025-01-01"
    )
    ome = report["group"][2]
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in ome["population"]}
    assert counts == {"patients-reviewed-twice": 2, "ome-not-computable": 1}
