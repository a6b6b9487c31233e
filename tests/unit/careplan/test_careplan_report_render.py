"""The commissioner's chart and one-page summary, drawn with matplotlib from the MeasureReport itself."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest

from services.careplan.domain.catalogue import INTERVENTION_SYSTEM, interventions
from services.careplan.domain.evaluation import EvaluationFacts
from services.careplan.fhir_mapping.evaluation_report import measure_report
from services.careplan.fhir_mapping.report_render import evaluation_chart, evaluation_html
from tests.support.careplan_cohort import COHORT_SIZE, PAPER_PERCENT, received_by

SETTINGS = {code: i.setting for code, i in interventions().items()}
SVG = "{http://www.w3.org/2000/svg}"


def _report(practice: str | None = None) -> dict[str, object]:
    patients = [f"Patient/p{i}" for i in range(COHORT_SIZE)]
    facts = EvaluationFacts(
        referrals=40,
        invited=38,
        enrolled=dict.fromkeys(patients, date(2017, 9, 1)),
        retained=frozenset(patients[:30]),
        received={
            p: frozenset((INTERVENTION_SYSTEM, code) for code in received_by(i))
            for i, p in enumerate(patients)
        },
        local_displays={},
        acceptability={"Patient/p0": {"burden": 2}},
    )
    return measure_report(
        facts,
        interventions(),
        period_start="2017-08-01",
        period_end="2018-08-31",
        generated="2018-09-01T00:00:00Z",
        reporter_ods=practice,
    )


def test_the_svg_chart_shows_the_papers_shares_and_is_the_same_each_time() -> None:
    report = _report()
    svg = evaluation_chart(report, SETTINGS, "svg")
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    texts = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    # the cohort shape's shares, to the whole percent as the paper prints them (e.g. 25 of 34 = 74%)
    assert all(f"{percent}%" in texts for percent in PAPER_PERCENT.values())
    assert "25/34" in texts and "Recruitment and retention" in texts
    assert evaluation_chart(report, SETTINGS, "svg") == svg


def test_the_png_chart_is_a_png() -> None:
    png = evaluation_chart(_report(), SETTINGS, "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_a_chart_is_svg_or_png_only() -> None:
    with pytest.raises(ValueError, match="png or svg"):
        evaluation_chart(_report(), SETTINGS, "gif")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_one_page_summary_carries_the_figures_and_the_chart() -> None:
    html = evaluation_html(_report("A81001"), SETTINGS)
    parsed = _Tags()
    parsed.feed(html)
    text = " ".join(parsed.text)
    assert html.startswith("<!DOCTYPE html>") and "svg" in parsed.tags
    assert "2017-08-01 to 2018-08-31 (practice A81001)" in text
    assert "Enrolled" in text and "34" in text
    assert "Burden" in text  # acceptability construct rows
    assert "no-reading-in-window: 34" in text  # nobody has an OME reading: counted, with why


def test_text_from_the_report_is_escaped_in_the_summary() -> None:
    report = _report()
    share = report["group"][1]["stratifier"][0]["stratum"][0]  # type: ignore[index]
    share["value"]["text"] = "<script>alert(1)</script>"
    html = evaluation_html(report, SETTINGS)
    assert "<script>" not in html
