"""The service evaluation as a FHIR R4 summary ``MeasureReport``.

Pure: facts in, the report (a dict) out. One group per measure, each group's ``code`` from
``CodeSystem/service-evaluation`` (where each population is defined); a median rides on the group as the
``measure-median`` extension beside the mean in ``measureScore``. Patients without a figure are never
dropped silently: each timepoint's and change's group counts them under their exclusion code, and a
not-computable OME names its reasons in that population's ``code.text``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.careplan.domain.acceptability import CONSTRUCTS
from services.careplan.domain.catalogue import EVALUATION_SYSTEM, FHIR_BASE, Intervention
from services.careplan.domain.evaluation import (
    EvaluationFacts,
    StaffTime,
    attendance,
    engaged,
    intervention_shares,
    staff_time,
)
from services.careplan.domain.outcomes import (
    EXCLUSIONS,
    NOT_COMPUTABLE,
    TIMEPOINTS,
    Change,
    Summary,
    change_from_baseline,
    mean,
    median,
    summary_at,
)

__all__ = ["MEASURE_URL", "MEDIAN_EXTENSION", "ODS", "PROMS", "measure_report"]

MEASURE_URL = f"{FHIR_BASE}/Measure/service-evaluation"
MEDIAN_EXTENSION = f"{FHIR_BASE}/StructureDefinition/measure-median"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
UCUM = "http://unitsofmeasure.org"
#: The PROMs the assessment collects: code in ``EvaluationFacts.proms`` -> display.
PROMS = {"peg": "PEG (pain, enjoyment, general activity; mean 0-10)", "phq-9": "PHQ-9", "gad-7": "GAD-7"}


def _concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    coding: dict[str, str] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    concept: dict[str, Any] = {"coding": [coding]}
    if text:
        concept["text"] = text
    return concept


def _population(system: str, code: str, count: int, text: str | None = None) -> dict[str, Any]:
    return {"code": _concept(system, code, text=text), "count": count}


def _quantity(value: Decimal, unit: str) -> dict[str, Any]:
    if unit == "mg/d":
        return {"value": float(value), "unit": "mg/d", "system": UCUM, "code": "mg/d"}
    if unit == "%":
        return {"value": float(value), "unit": "%", "system": UCUM, "code": "%"}
    if unit == "min":
        return {"value": float(value), "unit": "min", "system": UCUM, "code": "min"}
    if unit == "GBP":
        return {"value": float(value), "unit": "GBP", "system": "urn:iso:std:iso:4217", "code": "GBP"}
    return {"value": float(value), "unit": unit, "system": UCUM, "code": f"{{{unit}}}"}


def _scored(group: dict[str, Any], mean: Decimal | None, median: Decimal | None, unit: str) -> dict[str, Any]:
    if mean is not None:
        group["measureScore"] = _quantity(mean, unit)
    if median is not None:
        group["extension"] = [{"url": MEDIAN_EXTENSION, "valueQuantity": _quantity(median, unit)}]
    return group


def _exclusions(
    excluded: Mapping[str, int], reasons: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    found = []
    for code in EXCLUSIONS:
        text = None
        if code == NOT_COMPUTABLE and reasons:
            text = "; ".join(f"{reason} ({n})" for reason, n in sorted(reasons.items()))
        found.append(_population(EVALUATION_SYSTEM, code, excluded.get(code, 0), text))
    return found


def _summary_group(code: str, display: str, summary: Summary, cohort: int, unit: str) -> dict[str, Any]:
    group = {
        "code": _concept(EVALUATION_SYSTEM, code, display),
        "population": [
            _population(POPULATION, "initial-population", cohort),
            _population(POPULATION, "measure-population", summary.count),
            *_exclusions(summary.excluded, summary.reasons),
        ],
    }
    return _scored(group, summary.mean, summary.median, unit)


def _change_group(code: str, display: str, change: Change, cohort: int, unit: str) -> dict[str, Any]:
    group = {
        "code": _concept(EVALUATION_SYSTEM, code, display),
        "population": [
            _population(POPULATION, "initial-population", cohort),
            _population(POPULATION, "measure-population", change.count),
            *_exclusions(change.excluded),
        ],
    }
    return _scored(group, change.mean, change.median, unit)


def _percent(numerator: int, denominator: int) -> Decimal:
    if not denominator:
        return Decimal("0.0")
    return (Decimal(100 * numerator) / denominator).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _reduction_group(change: Change) -> dict[str, Any]:
    label = change.timepoint.display
    strata = [
        {
            "value": _concept(EVALUATION_SYSTEM, code, display),
            "population": [
                _population(POPULATION, "denominator", change.above_zero),
                _population(POPULATION, "numerator", count),
            ],
            "measureScore": _quantity(_percent(count, change.above_zero), "%"),
        }
        for code, display, count in (
            ("reduced-15", "OME reduced by 15% or more", change.reduced_15),
            ("reduced-50", "OME reduced by 50% or more", change.reduced_50),
            ("stopped", "Opioids stopped (OME 0)", change.stopped),
        )
    ]
    return {
        "code": _concept(
            EVALUATION_SYSTEM, f"ome-reduction-{change.timepoint.code}", f"OME reduction at {label}"
        ),
        "population": [_population(POPULATION, "denominator", change.above_zero)],
        "stratifier": [{"code": [{"text": "reduction"}], "stratum": strata}],
    }


def _recruitment(facts: EvaluationFacts) -> dict[str, Any]:
    counts = (
        ("referred", facts.referrals),
        ("eligible", facts.eligible),
        ("invited", facts.invited),
        ("consented", facts.consented),
        ("enrolled", len(facts.enrolled)),
        ("engaged", len(engaged(facts))),
        ("retained", len(facts.retained)),
        ("discharged", facts.discharged),
    )
    return {
        "code": _concept(EVALUATION_SYSTEM, "recruitment", "Recruitment, engagement and retention"),
        "population": [_population(EVALUATION_SYSTEM, code, count) for code, count in counts],
    }


def _shares(facts: EvaluationFacts, catalogue: Mapping[str, Intervention]) -> dict[str, Any]:
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
            "measureScore": _quantity(s.percent, "%"),
        }
        for s in intervention_shares(facts, catalogue)
    ]
    return {
        "code": _concept(EVALUATION_SYSTEM, "intervention-share", "Share receiving an intervention"),
        "population": [
            _population(POPULATION, "initial-population", len(facts.enrolled)),
            _population(POPULATION, "denominator", len(facts.enrolled)),
        ],
        "stratifier": [{"code": [{"text": "intervention"}], "stratum": strata}],
    }


def _attendance(facts: EvaluationFacts) -> dict[str, Any]:
    seen = attendance(facts)
    group = {
        "code": _concept(EVALUATION_SYSTEM, "attendance", "Session attendance"),
        "population": [
            _population(POPULATION, "initial-population", len(facts.enrolled)),
            _population(EVALUATION_SYSTEM, "sessions-booked", seen.booked),
            _population(EVALUATION_SYSTEM, "sessions-attended", seen.attended),
            _population(EVALUATION_SYSTEM, "sessions-cancelled", seen.cancelled),
            _population(EVALUATION_SYSTEM, "patients-attending", seen.patients_attending),
        ],
    }
    return _scored(group, seen.mean_per_patient, seen.median_per_patient, "session")


def _acceptability(facts: EvaluationFacts) -> dict[str, Any]:
    answered = {p: scores for p, scores in facts.acceptability.items() if p in facts.enrolled}
    strata = []
    for construct in CONSTRUCTS:
        values = [Decimal(scores[construct.code]) for scores in answered.values() if construct.code in scores]
        stratum: dict[str, Any] = {
            "value": _concept(EVALUATION_SYSTEM, construct.code, construct.display),
            "population": [_population(POPULATION, "measure-population", len(values))],
        }
        strata.append(_scored(stratum, mean(values), median(values), "score"))
    return {
        "code": _concept(EVALUATION_SYSTEM, "acceptability", "Acceptability per construct"),
        "population": [
            _population(POPULATION, "initial-population", len(facts.enrolled)),
            _population(POPULATION, "measure-population", len(answered)),
        ],
        "stratifier": [{"code": [{"text": "construct"}], "stratum": strata}],
    }


ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def _staff_populations(time: StaffTime) -> list[dict[str, Any]]:
    return [
        _population(EVALUATION_SYSTEM, "sessions-held", time.sessions),
        _population(EVALUATION_SYSTEM, "sessions-timed", time.timed),
        _population(EVALUATION_SYSTEM, "session-length-unknown", time.length_unknown),
    ]


def _staff_time(facts: EvaluationFacts) -> dict[str, Any]:
    overall, practices = staff_time(facts)
    strata = [
        {
            "value": {"coding": [{"system": ODS, "code": str(t.practice)}], "text": str(t.practice)},
            "population": _staff_populations(t),
            "measureScore": _quantity(Decimal(t.minutes), "min"),
        }
        for t in practices
    ]
    group: dict[str, Any] = {
        "code": _concept(EVALUATION_SYSTEM, "staff-time", "Project-worker time in sessions"),
        "population": _staff_populations(overall),
        "measureScore": _quantity(Decimal(overall.minutes), "min"),
    }
    if strata:
        group["stratifier"] = [{"code": [{"text": "practice"}], "stratum": strata}]
    return group


def measure_report(
    facts: EvaluationFacts,
    catalogue: Mapping[str, Intervention],
    *,
    period_start: str,
    period_end: str,
    generated: str,
    reporter_ods: str | None = None,
) -> dict[str, Any]:
    """The summary ``MeasureReport`` of the service evaluation for the period (``period_end`` a date or
    dateTime: readings after its day are not used)."""
    end = date.fromisoformat(period_end[:10])
    cohort, size = facts.enrolled, len(facts.enrolled)
    groups = [_recruitment(facts), _shares(facts, catalogue), _attendance(facts)]
    for timepoint in TIMEPOINTS:
        summary = summary_at(cohort, facts.ome, timepoint, end)
        display = f"Total daily OME at {timepoint.display.lower()}"
        groups.append(_summary_group(f"ome-{timepoint.code}", display, summary, size, "mg/d"))
    for timepoint in TIMEPOINTS[1:]:
        change = change_from_baseline(cohort, facts.ome, timepoint, end)
        display = f"Change in total daily OME, baseline to {timepoint.display}"
        groups.append(_change_group(f"ome-change-{timepoint.code}", display, change, size, "mg/d"))
        groups.append(_reduction_group(change))
    for prom, name in PROMS.items():
        readings = facts.proms.get(prom, {})
        for timepoint in TIMEPOINTS[1:]:
            change = change_from_baseline(cohort, readings, timepoint, end)
            display = f"Change in {name}, baseline to {timepoint.display}"
            groups.append(_change_group(f"{prom}-change-{timepoint.code}", display, change, size, "score"))
    groups.append(_acceptability(facts))
    groups.append(
        {
            "code": _concept(EVALUATION_SYSTEM, "budget-spent", "Community services budget committed"),
            "measureScore": _quantity(facts.spent, "GBP"),
        }
    )
    groups.append(_staff_time(facts))
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": MEASURE_URL,
        "date": generated,
        "period": {"start": period_start, "end": period_end},
        "group": groups,
    }
    if reporter_ods:
        report["reporter"] = {
            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": reporter_ods}
        }
    return report
