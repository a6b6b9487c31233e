"""The service evaluation for a commissioner: a chart (PNG or SVG, drawn with matplotlib) and a one-page
HTML summary, both from the ``MeasureReport`` itself so that they show exactly its figures.

No I/O: the report (a dict) in, bytes or text out. matplotlib is used through its object API
(``Figure``), never ``pyplot``, so rendering holds no global state and is safe in worker threads; SVG
output carries no date and a fixed hash salt, so the same report draws the same document.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from io import BytesIO
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Patch

__all__ = ["FORMATS", "evaluation_chart", "evaluation_html"]

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
GROUP_TITLES = {
    "within-session": "Within-session components (paper Figure 2)",
    "community": "Community services and social prescribing (paper Figure 3)",
    "local": "The practice's own interventions",
}
COLOURS = {"within-session": "#005eb8", "community": "#007f3b", "local": "#7c2855"}
RECRUITMENT = (
    "referred",
    "eligible",
    "invited",
    "consented",
    "enrolled",
    "engaged",
    "retained",
    "discharged",
)
NONE = "&ndash;"  # no figure, in the HTML
TIMEPOINTS = (("baseline", "Baseline"), ("6-months", "6 months"), ("12-months", "12 months"))


def _code(concept: Mapping[str, Any]) -> str:
    codings = concept.get("coding") or [{}]
    return str(codings[0].get("code", ""))


def _display(concept: Mapping[str, Any]) -> str:
    codings = concept.get("coding") or [{}]
    return str(concept.get("text") or codings[0].get("display") or codings[0].get("code", ""))


def _groups(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {_code(g["code"]): g for g in report.get("group") or []}


def _counts(group: Mapping[str, Any]) -> dict[str, int]:
    return {_code(p["code"]): int(p.get("count", 0)) for p in group.get("population") or []}


def _score(element: Mapping[str, Any]) -> float | None:
    score = element.get("measureScore")
    return None if score is None else float(score["value"])


def _median(element: Mapping[str, Any]) -> float | None:
    for extension in element.get("extension") or []:
        if str(extension.get("url", "")).endswith("/measure-median"):
            return float(extension["valueQuantity"]["value"])
    return None


def _strata(group: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not group:
        return []
    return list((group.get("stratifier") or [{}])[0].get("stratum") or [])


def _shares(report: Mapping[str, Any], settings: Mapping[str, str]) -> list[tuple[str, str, float, int, int]]:
    """(setting, display, percent, numerator, denominator) per intervention, grouped by setting."""
    rows = []
    for stratum in _strata(_groups(report).get("intervention-share")):
        counts = _counts(stratum)
        setting = settings.get(_code(stratum["value"]), "local")
        rows.append(
            (
                setting,
                _display(stratum["value"]),
                _score(stratum) or 0.0,
                counts["numerator"],
                counts["denominator"],
            )
        )
    order = list(GROUP_TITLES)
    return sorted(rows, key=lambda r: order.index(r[0]) if r[0] in order else len(order))


def _title(report: Mapping[str, Any]) -> str:
    period = report.get("period") or {}
    where = ((report.get("reporter") or {}).get("identifier") or {}).get("value")
    scope = f"practice {where}" if where else "all practices"
    return f"Pain and opioid review service: {period.get('start')} to {period.get('end')} ({scope})"


def evaluation_chart(report: Mapping[str, Any], settings: Mapping[str, str], fmt: str = "svg") -> bytes:
    """The report as a chart: shares receiving each intervention (the paper's Figures 2 and 3), the
    recruitment funnel, and mean total daily OME at baseline, 6 and 12 months (with n).

    ``settings`` maps an intervention code to ``within-session`` or ``community`` (others: local).
    """
    if fmt not in FORMATS:
        raise ValueError(f"a chart is png or svg, not {fmt!r}")
    groups = _groups(report)
    shares = _shares(report, settings)
    figure = Figure(figsize=(10, 3.6 + 0.27 * max(len(shares), 1)), layout="constrained")
    grid = figure.add_gridspec(2, 2, height_ratios=[max(len(shares), 1) * 0.27 + 0.4, 3.0])
    axes = figure.add_subplot(grid[0, :])
    labels = [row[1] for row in shares]
    values = [row[2] for row in shares]
    positions = list(range(len(shares)))[::-1]
    axes.barh(positions, values, color=[COLOURS.get(row[0], "#7c2855") for row in shares])
    for y, row in zip(positions, shares, strict=True):
        axes.text(row[2] + 1, y, f"{round(row[2])}% ({row[3]}/{row[4]})", va="center", fontsize=8)
    axes.set_yticks(positions, labels, fontsize=8)
    axes.set_xlim(0, 115)
    axes.set_xlabel("% of patients enrolled in the period")
    present = [s for s in GROUP_TITLES if any(row[0] == s for row in shares)]
    handles = [Patch(color=COLOURS[s], label=GROUP_TITLES[s]) for s in present]
    if handles:
        axes.legend(handles=handles, loc="lower right", fontsize=8)
    axes.set_title("Share receiving each intervention", fontsize=11, loc="left")

    funnel = figure.add_subplot(grid[1, 0])
    counts = _counts(groups.get("recruitment", {}))
    steps = [(code.capitalize(), counts.get(code, 0)) for code in RECRUITMENT]
    funnel.barh(range(len(steps))[::-1], [n for _, n in steps], color="#425563")
    funnel.set_yticks(range(len(steps))[::-1], [label for label, _ in steps], fontsize=8)
    for y, (_, n) in zip(range(len(steps))[::-1], steps, strict=True):
        funnel.text(n, y, f" {n}", va="center", fontsize=8)
    funnel.set_title("Recruitment and retention (patients)", fontsize=11, loc="left")
    funnel.margins(x=0.2)

    ome = figure.add_subplot(grid[1, 1])
    names, means, notes = [], [], []
    for code, label in TIMEPOINTS:
        group = groups.get(f"ome-{code}", {})
        names.append(label)
        means.append(_score(group) or 0.0)
        found = _counts(group).get("measure-population", 0)
        notes.append(f"n={found}" if _score(group) is not None else "no figure")
    ome.bar(names, means, color="#ae2573")
    for x, (mean, note) in enumerate(zip(means, notes, strict=True)):
        ome.text(
            x,
            mean,
            f"{mean:g}\n{note}" if note != "no figure" else note,
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ome.set_ylabel("mg/day (mean)")
    ome.set_title("Total daily OME", fontsize=11, loc="left")
    ome.set_ylim(0, max([*means, 1.0]) * 1.35)
    figure.suptitle(_title(report), fontsize=12)

    out = BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "pain-review", "svg.fonttype": "none"}):
        metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
        figure.savefig(out, format=fmt, dpi=110, metadata=metadata)
    return out.getvalue()


def _figure(value: float | None, unit: str = "") -> str:
    if value is None:
        return NONE
    return f"{value:g}{unit}"


def _outcome_rows(groups: Mapping[str, Mapping[str, Any]], codes: list[tuple[str, str]], unit: str) -> str:
    rows = []
    for code, label in codes:
        group = groups.get(code)
        if group is None:
            continue
        counts = _counts(group)
        excluded = ", ".join(
            f"{escape(_display(p['code']) if p['code'].get('text') else _code(p['code']))}: {p['count']}"
            for p in group.get("population") or []
            if _code(p["code"]) not in ("initial-population", "measure-population") and p.get("count")
        )
        rows.append(
            f"<tr><th scope='row'>{escape(label)}</th><td>{counts.get('measure-population', 0)}</td>"
            f"<td>{_figure(_score(group), unit)}</td><td>{_figure(_median(group), unit)}</td>"
            f"<td>{excluded or NONE}</td></tr>"
        )
    return "".join(rows)


def evaluation_html(report: Mapping[str, Any], settings: Mapping[str, str]) -> str:
    """A one-page HTML summary: headline counts, the chart (inline SVG), outcomes with who had no figure
    and why, acceptability and spend. Every text from the report is escaped."""
    groups = _groups(report)
    chart = evaluation_chart(report, settings, "svg").decode("utf-8")
    chart = chart[chart.index("<svg") :]
    recruitment = _counts(groups.get("recruitment", {}))
    funnel = "".join(
        f"<tr><th scope='row'>{escape(code.capitalize())}</th><td>{recruitment.get(code, 0)}</td></tr>"
        for code in RECRUITMENT
    )
    attendance = groups.get("attendance", {})
    seen = _counts(attendance)
    ome = _outcome_rows(groups, [(f"ome-{c}", f"OME at {label.lower()}") for c, label in TIMEPOINTS], " mg/d")
    changes = _outcome_rows(
        groups,
        [
            (f"{measure}-change-{c}", f"{name}: change to {label}")
            for measure, name in (("ome", "OME"), ("peg", "PEG"), ("phq-9", "PHQ-9"), ("gad-7", "GAD-7"))
            for c, label in TIMEPOINTS[1:]
        ],
        "",
    )
    reductions = "".join(
        f"<tr><th scope='row'>{escape(label)}</th>"
        + "".join(
            f"<td>{_counts(s).get('numerator', 0)}/{_counts(s).get('denominator', 0)} "
            f"({_figure(_score(s), '%')})</td>"
            for s in _strata(groups.get(f"ome-reduction-{c}"))
        )
        + "</tr>"
        for c, label in TIMEPOINTS[1:]
    )
    acceptability = "".join(
        f"<tr><th scope='row'>{escape(_display(s['value']))}</th>"
        f"<td>{_counts(s).get('measure-population', 0)}</td>"
        f"<td>{_figure(_score(s))}</td><td>{_figure(_median(s))}</td></tr>"
        for s in _strata(groups.get("acceptability"))
    )
    spent = _score(groups.get("budget-spent", {}))
    staff = groups.get("staff-time", {})
    held = _counts(staff)
    staff_line = (
        f"{_figure(_score(staff))} min over {held.get('sessions-timed', 0)} sessions of known length; "
        f"{held.get('session-length-unknown', 0)} more of unknown length not counted"
    )
    title = escape(_title(report))
    style = (
        "body{font-family:Arial,Helvetica,sans-serif;color:#212b32;max-width:60rem;margin:1rem auto;"
        "font-size:14px}"
        "table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border-bottom:1px solid #d8dde0;"
        "padding:.2rem .6rem;text-align:left}h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.2rem}"
        ".cols{display:flex;gap:2rem;flex-wrap:wrap}svg{max-width:100%;height:auto}"
        "@media print{body{margin:0}}"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{style}</style></head><body>"
        f"<h1>{title}</h1><p>Generated {escape(str(report.get('date', '')))} from "
        "Measure/service-evaluation. The cohort is the patients whose enrolment started in the period; "
        "every share and outcome is over them. Patients without a figure are counted, with why.</p>"
        "<div class='cols'><div><h2>Recruitment and retention</h2><table>"
        f"{funnel}</table></div><div><h2>Sessions</h2><table>"
        f"<tr><th scope='row'>Booked</th><td>{seen.get('sessions-booked', 0)}</td></tr>"
        f"<tr><th scope='row'>Attended</th><td>{seen.get('sessions-attended', 0)}</td></tr>"
        f"<tr><th scope='row'>Cancelled</th><td>{seen.get('sessions-cancelled', 0)}</td></tr>"
        f"<tr><th scope='row'>Patients attending</th><td>{seen.get('patients-attending', 0)}</td></tr>"
        f"<tr><th scope='row'>Attended per patient</th><td>mean {_figure(_score(attendance))}, "
        f"median {_figure(_median(attendance))}</td></tr></table>"
        f"<h2>Community budget committed</h2><p>£{_figure(spent)}</p>"
        f"<h2>Project-worker time in sessions</h2><p>{staff_line}</p></div></div>"
        f"{chart}"
        "<h2>Total daily OME (mg/day)</h2><table><tr><th>Timepoint</th><th>n</th><th>Mean</th><th>Median</th>"
        f"<th>No figure (why)</th></tr>{ome}</table>"
        "<h2>Change from baseline</h2><table><tr><th>Measure</th><th>n</th><th>Mean</th><th>Median</th>"
        f"<th>No figure (why)</th></tr>{changes}</table>"
        "<h2>OME reductions (of patients with a baseline above 0)</h2><table><tr><th></th>"
        f"<th>Reduced ≥ 15%</th><th>Reduced ≥ 50%</th><th>Stopped</th></tr>{reductions}</table>"
        "<h2>Acceptability (1 strongly disagree to 5 strongly agree; for burden and opportunity costs "
        "agreeing is less acceptable)</h2><table><tr><th>Construct</th><th>n</th><th>Mean</th><th>Median</th>"
        f"</tr>{acceptability}</table></body></html>"
    )
