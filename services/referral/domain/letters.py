"""The invitation letter as a printable PDF (A4, fpdf2's built-in Helvetica).

The built-in PDF fonts cover Latin-1 only: typographic quotes and dashes become their plain forms
and anything else outside Latin-1 a question mark, so a letter never fails to render.
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import XPos, YPos

__all__ = ["letter_pdf"]

SHORT_LINE = 60

_PLAIN = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
    }
)


def _latin1(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def letter_pdf(text: str, *, title: str = "Invitation") -> bytes:
    """The letter's text laid out on A4 pages, one paragraph per blank-line-separated block."""
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("pain-review referral service")
    pdf.set_margins(25, 25, 25)
    pdf.set_auto_page_break(True, margin=25)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for block in _latin1(text).split("\n\n"):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        # Short lines (an address, a signature) keep their breaks; prose is re-flowed to the page.
        body = "\n".join(lines) if max(map(len, lines)) < SHORT_LINE else " ".join(lines)
        pdf.multi_cell(0, 5.5, body, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(4)
    return bytes(pdf.output())
