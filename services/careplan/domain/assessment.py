"""Scoring the assessment: PEG (pain, enjoyment of life, general activity), PHQ-9 (mood), GAD-7 (anxiety).

Pure: answers in, scores out. Items are keyed by their LOINC codes (the Questionnaire's linkIds, see
``data/questionnaire-assessment.json``). PHQ-9 and GAD-7 answers are 0 to 3 (or the LOINC answer codes
LA6568-5, LA6569-3, LA6570-1, LA6571-9); PEG answers are 0 to 10. Bands: ``data/README.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "FREQUENCY_ANSWERS",
    "GAD7_ITEMS",
    "GAD7_TOTAL",
    "PEG_ITEMS",
    "PEG_MEAN",
    "PHQ9_ITEMS",
    "PHQ9_TOTAL",
    "AssessmentError",
    "AssessmentScores",
    "answers_of",
    "gad7_severity",
    "peg_mean",
    "phq9_severity",
    "score_assessment",
]

PHQ9_ITEMS = (
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
)
GAD7_ITEMS = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")
PEG_ITEMS = ("75893-8", "91145-3", "91146-1")
PHQ9_TOTAL, GAD7_TOTAL, PEG_MEAN = "44261-6", "70274-6", "91147-9"
FREQUENCY_ANSWERS = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}

# (lowest total of the band, band name), highest first.
PHQ9_BANDS = ((20, "severe"), (15, "moderately-severe"), (10, "moderate"), (5, "mild"), (0, "none-minimal"))
GAD7_BANDS = ((15, "severe"), (10, "moderate"), (5, "mild"), (0, "minimal"))


class AssessmentError(ValueError):
    """An answer that is missing, of the wrong kind, or out of range."""


@dataclass(frozen=True, slots=True)
class AssessmentScores:
    """Totals of the instruments answered in full; ``None`` where an instrument was not answered."""

    phq9_total: int | None
    phq9_severity: str | None
    gad7_total: int | None
    gad7_severity: str | None
    peg_mean: Decimal | None
    phq9_item9_positive: bool


def _band(total: int, bands: Sequence[tuple[int, str]]) -> str:
    for lowest, name in bands:
        if total >= lowest:
            return name
    raise AssertionError("bands start at 0")


def phq9_severity(total: int) -> str:
    """PHQ-9 band of a total (0 to 27)."""
    if not 0 <= total <= 27:
        raise AssessmentError(f"a PHQ-9 total is 0 to 27, not {total}")
    return _band(total, PHQ9_BANDS)


def gad7_severity(total: int) -> str:
    """GAD-7 band of a total (0 to 21)."""
    if not 0 <= total <= 21:
        raise AssessmentError(f"a GAD-7 total is 0 to 21, not {total}")
    return _band(total, GAD7_BANDS)


def peg_mean(pain: int, enjoyment: int, activity: int) -> Decimal:
    """The PEG score: the mean of its three 0 to 10 items, to one decimal place."""
    for value in (pain, enjoyment, activity):
        if not 0 <= value <= 10:
            raise AssessmentError(f"PEG items are 0 to 10, not {value}")
    return (Decimal(pain + enjoyment + activity) / 3).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _frequency(link_id: str, answer: Any) -> int:
    if isinstance(answer, bool) or answer is None:
        raise AssessmentError(f"item {link_id} needs an answer from 0 to 3")
    if isinstance(answer, str):
        if answer not in FREQUENCY_ANSWERS:
            raise AssessmentError(f"item {link_id}: {answer} is not a PHQ/GAD answer code")
        return FREQUENCY_ANSWERS[answer]
    if isinstance(answer, int) and 0 <= answer <= 3:
        return answer
    raise AssessmentError(f"item {link_id} needs an answer from 0 to 3, not {answer}")


def _instrument(answers: Mapping[str, Any], items: Sequence[str], name: str) -> list[Any] | None:
    given = [link for link in items if link in answers]
    if not given:
        return None
    if len(given) != len(items):
        missing = ", ".join(link for link in items if link not in answers)
        raise AssessmentError(f"{name} is incomplete: no answer for {missing}")
    return [answers[link] for link in items]


def score_assessment(answers: Mapping[str, Any]) -> AssessmentScores:
    """Score every instrument answered: ``answers`` maps item linkIds (LOINC) to an int or answer code.

    An instrument is either answered in full or not at all; partial answers are an error.
    """
    phq = _instrument(answers, PHQ9_ITEMS, "PHQ-9")
    gad = _instrument(answers, GAD7_ITEMS, "GAD-7")
    peg = _instrument(answers, PEG_ITEMS, "PEG")
    phq_values = [_frequency(link, a) for link, a in zip(PHQ9_ITEMS, phq, strict=True)] if phq else None
    gad_values = [_frequency(link, a) for link, a in zip(GAD7_ITEMS, gad, strict=True)] if gad else None
    if peg is not None and not all(isinstance(v, int) and not isinstance(v, bool) for v in peg):
        raise AssessmentError("PEG items need whole numbers from 0 to 10")
    phq_total = sum(phq_values) if phq_values is not None else None
    gad_total = sum(gad_values) if gad_values is not None else None
    return AssessmentScores(
        phq9_total=phq_total,
        phq9_severity=phq9_severity(phq_total) if phq_total is not None else None,
        gad7_total=gad_total,
        gad7_severity=gad7_severity(gad_total) if gad_total is not None else None,
        peg_mean=peg_mean(*peg) if peg is not None else None,
        phq9_item9_positive=bool(phq_values and phq_values[8] > 0),
    )


def answers_of(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The first answer of each item of a QuestionnaireResponse (groups walked), by linkId.

    ``valueInteger`` gives the number, ``valueCoding`` its code, ``valueDecimal`` the number.
    """
    found: dict[str, Any] = {}
    for item in items:
        answers = item.get("answer") or []
        if answers:
            answer = answers[0]
            if "valueInteger" in answer:
                found[item["linkId"]] = answer["valueInteger"]
            elif "valueCoding" in answer:
                found[item["linkId"]] = answer["valueCoding"].get("code")
            elif "valueDecimal" in answer:
                found[item["linkId"]] = answer["valueDecimal"]
        found.update(answers_of(item.get("item") or []))
    return found
