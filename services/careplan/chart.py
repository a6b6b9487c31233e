"""A hand-built SVG bar chart of the service evaluation, for commissioners who would rather look.

Pure: shares in, an SVG document (text) out; no plotting library. One horizontal bar per
intervention, grouped as the paper's Figures 2 (within-session) and 3 (community), with the
percentage of enrolled patients at the end of each bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from services.careplan.evaluation import Share

__all__ = ["evaluation_chart_svg"]

WIDTH = 760
LABEL_WIDTH = 300
BAR_SPACE = WIDTH - LABEL_WIDTH - 70
ROW = 26
GROUP_TITLES = {
    "within-session": "Within-session components (Figure 2)",
    "community": "Community services and social prescribing (Figure 3)",
    "local": "The practice's own interventions",
}
COLOURS = {"within-session": "#005eb8", "community": "#007f3b", "local": "#7c2855"}


def evaluation_chart_svg(
    shares: Sequence[Share], *, title: str, subtitle: str, recruitment: Sequence[tuple[str, int]] = ()
) -> str:
    """The chart as an SVG document; ``recruitment`` (label, count) pairs are printed under the title."""
    lines: list[str] = []
    y = 64
    if recruitment:
        summary = " · ".join(f"{escape(label)}: {count}" for label, count in recruitment)
        lines.append(f'<text x="16" y="{y}" class="sub">{summary}</text>')
        y += 22
    for setting in ("within-session", "community", "local"):
        group = [s for s in shares if s.setting == setting]
        if not group:
            continue
        y += 14
        lines.append(f'<text x="16" y="{y}" class="group">{escape(GROUP_TITLES[setting])}</text>')
        y += 10
        for share in group:
            length = round(BAR_SPACE * float(share.percent) / 100)
            label = escape(share.display)
            lines.append(
                f'<text x="{LABEL_WIDTH - 8}" y="{y + 17}" class="label" text-anchor="end">{label}</text>'
                f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{length}" height="{ROW - 8}" '
                f'fill="{COLOURS[setting]}"><title>{label}: {share.numerator} of {share.denominator}'
                "</title></rect>"
                f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 17}" class="value">'
                f"{share.whole_percent}%</text>"
            )
            y += ROW
    height = y + 24
    style = (
        "text{font-family:Arial,Helvetica,sans-serif;fill:#212b32}"
        ".title{font-size:18px;font-weight:bold}.sub{font-size:13px}"
        ".group{font-size:14px;font-weight:bold}.label,.value{font-size:13px}"
    )
    body = "".join(lines)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        f"<style>{style}</style>"
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>'
        f'<text x="16" y="26" class="title">{escape(title)}</text>'
        f'<text x="16" y="46" class="sub">{escape(subtitle)}</text>'
        f"{body}</svg>"
    )
