"""The service evaluation: recruitment, retention, who received which intervention, change in OME.

Pure: facts in (gathered by the repository from events and plans), a FHIR ``MeasureReport`` out.
Definitions are those of ``data/measure-service-evaluation.json``: an intervention is received when
the patient's plan shows it started or completed (or a community referral for it started or
finished); the denominator is the patients enrolled in the period, as in the paper ("the proportion
of all patients").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.careplan.catalogue import EVALUATION_SYSTEM, FHIR_BASE, INTERVENTION_SYSTEM, Intervention

__all__ = [
    "EvaluationFacts",
    "OmeReview",
    "Share",
    "intervention_shares",
    "measure_report",
    "ome_change",
    "ome_not_computable",
]

MEASURE_URL = f"{FHIR_BASE}/Measure/service-evaluation"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True, slots=True)
class OmeReview:
    """One medication review's total daily OME (mg/day) at ``when`` (ISO 8601, sortable).

    ``mg_per_day`` is ``None`` when the review could not compute every opioid's dose (its total was only a
    lower bound): such a review is never used as a figure.
    """

    when: str
    mg_per_day: Decimal | None


@dataclass(frozen=True)
class EvaluationFacts:
    """What happened in the period, for the practices the caller acts for (patients as references)."""

    referrals: int
    invited: int
    enrolled: frozenset[str]
    retained: frozenset[str]
    received: Mapping[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    local_displays: Mapping[tuple[str, str], str] = field(default_factory=dict)
    reviews: Mapping[str, Sequence[OmeReview]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Share:
    """How many enrolled patients received one intervention; ``percent`` to one decimal place."""

    system: str
    code: str
    display: str
    setting: str
    numerator: int
    denominator: int

    @property
    def percent(self) -> Decimal:
        if self.denominator == 0:
            return Decimal("0.0")
        exact = Decimal(100 * self.numerator) / Decimal(self.denominator)
        return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def whole_percent(self) -> int:
        """The share to the whole percent, rounded half up from the exact fraction (as the paper)."""
        if self.denominator == 0:
            return 0
        exact = Decimal(100 * self.numerator) / Decimal(self.denominator)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def intervention_shares(facts: EvaluationFacts, catalogue: Mapping[str, Intervention]) -> list[Share]:
    """One share per catalogue intervention (in catalogue order), then per local code in use."""
    denominator = len(facts.enrolled)

    def count(system: str, code: str) -> int:
        return sum(1 for p in facts.enrolled if (system, code) in facts.received.get(p, frozenset()))

    shares = [
        Share(INTERVENTION_SYSTEM, i.code, i.display, i.setting, count(INTERVENTION_SYSTEM, i.code), n)
        for i in catalogue.values()
        for n in (denominator,)
    ]
    local = sorted(
        {
            key
            for p in facts.enrolled
            for key in facts.received.get(p, frozenset())
            if key[0] != INTERVENTION_SYSTEM
        }
    )
    for system, code in local:
        display = facts.local_displays.get((system, code), code)
        shares.append(Share(system, code, display, "local", count(system, code), denominator))
    return shares


def ome_not_computable(reviews: Mapping[str, Sequence[OmeReview]]) -> int:
    """Patients reviewed twice or more whose first or latest total OME was not computable: left out."""
    return sum(
        1
        for series in reviews.values()
        if len(series) > 1 and None in (min(series, key=_when).mg_per_day, max(series, key=_when).mg_per_day)
    )


def _when(review: OmeReview) -> str:
    return review.when


def ome_change(reviews: Mapping[str, Sequence[OmeReview]]) -> tuple[int, Decimal, Decimal, Decimal | None]:
    """(patients with two or more reviews, their total first OME, total latest OME, mean change), mg/day.

    A patient whose first or latest review's total was not computable (a lower bound) is left out: a
    change measured from a lower bound would be a guess (:func:`ome_not_computable` counts them).
    """
    firsts, latests = Decimal(0), Decimal(0)
    patients = 0
    for series in reviews.values():
        ordered = sorted(series, key=_when)
        if len(ordered) < 2:
            continue
        first, latest = ordered[0].mg_per_day, ordered[-1].mg_per_day
        if first is None or latest is None:
            continue
        patients += 1
        firsts += first
        latests += latest
    mean = None
    if patients:
        mean = ((latests - firsts) / patients).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return patients, firsts, latests, mean


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, str] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _population(system: str, code: str, count: int) -> dict[str, Any]:
    return {"code": _concept(system, code), "count": count}


def _mg(value: Decimal) -> dict[str, Any]:
    return {"value": float(value), "unit": "mg/d", "system": UCUM, "code": "mg/d"}


def measure_report(
    facts: EvaluationFacts,
    catalogue: Mapping[str, Intervention],
    *,
    period_start: str,
    period_end: str,
    generated: str,
    reporter_ods: str | None = None,
) -> dict[str, Any]:
    """The summary ``MeasureReport`` of the service evaluation for the period."""
    shares = intervention_shares(facts, catalogue)
    patients, firsts, latests, mean = ome_change(facts.reviews)
    strata = [
        {
            "value": {
                "coding": [{"system": s.system, "code": s.code, "display": s.display}],
                "text": s.display,
            },
            "population": [
                _population(POPULATION, "initial-population", s.denominator),
                _population(POPULATION, "denominator", s.denominator),
                _population(POPULATION, "numerator", s.numerator),
            ],
            "measureScore": {"value": float(s.percent), "unit": "%", "system": UCUM, "code": "%"},
        }
        for s in shares
    ]
    ome_group: dict[str, Any] = {
        "code": _concept(EVALUATION_SYSTEM, "ome-change", "Change in total daily OME"),
        "population": [
            _population(EVALUATION_SYSTEM, "patients-reviewed-twice", patients),
            _population(EVALUATION_SYSTEM, "ome-not-computable", ome_not_computable(facts.reviews)),
        ],
    }
    if mean is not None:
        ome_group["measureScore"] = _mg(mean)
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": MEASURE_URL,
        "date": generated,
        "period": {"start": period_start, "end": period_end},
        "group": [
            {
                "code": _concept(EVALUATION_SYSTEM, "recruitment", "Recruitment and retention"),
                "population": [
                    _population(EVALUATION_SYSTEM, "referred", facts.referrals),
                    _population(EVALUATION_SYSTEM, "invited", facts.invited),
                    _population(EVALUATION_SYSTEM, "enrolled", len(facts.enrolled)),
                    _population(EVALUATION_SYSTEM, "retained", len(facts.retained)),
                ],
            },
            {
                "code": _concept(EVALUATION_SYSTEM, "intervention-share", "Share receiving an intervention"),
                "population": [
                    _population(POPULATION, "initial-population", len(facts.enrolled)),
                    _population(POPULATION, "denominator", len(facts.enrolled)),
                ],
                "stratifier": [{"code": [{"text": "intervention"}], "stratum": strata}],
            },
            ome_group,
            {
                "code": _concept(EVALUATION_SYSTEM, "ome-first", "Total daily OME at first review"),
                "population": [_population(EVALUATION_SYSTEM, "patients-reviewed-twice", patients)],
                "measureScore": _mg(firsts),
            },
            {
                "code": _concept(EVALUATION_SYSTEM, "ome-latest", "Total daily OME at latest review"),
                "population": [_population(EVALUATION_SYSTEM, "patients-reviewed-twice", patients)],
                "measureScore": _mg(latests),
            },
        ],
    }
    if reporter_ods:
        report["reporter"] = {
            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": reporter_ods}
        }
    return report
