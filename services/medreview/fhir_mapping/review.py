"""A medication review as FHIR R4: the total OME Observation, DetectedIssues and the ``Parameters`` answer.

Pure: OME results and risk flags in, plain R4 dicts out. An incomplete total (an opioid whose dose could
not be computed) is never shown as a plain number: its Quantity carries ``comparator: ">="``, the
answer's ``complete`` part is false, and an ``ome-not-computable`` DetectedIssue says which medicine and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.medreview.domain.ome import MedicationOme, OmeResult
from services.medreview.domain.risk import HIGH_DOSE_MG_PER_DAY, SPECIALIST_MG_PER_DAY, RiskFlag
from services.medreview.fhir_mapping.codes import (
    FACTOR_TABLE_SYSTEM,
    OBSERVATION_CODES,
    OME_REASON_SYSTEM,
    OPIOID_OME,
    RISK_CODES,
    RISK_DISPLAY,
    TOTAL_DAILY_OME,
    coding,
    concept,
)
from services.medreview.fhir_mapping.codes import OBSERVATION_DISPLAY as DISPLAY
from services.medreview.fhir_mapping.quantities import daily_ome, number, quantity
from shared.core.values import format_instant

__all__ = [
    "detected_issue",
    "medication_names",
    "ome_observation",
    "review_bundle",
    "review_parameters",
    "total_ome_code",
]

INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def total_ome_code() -> dict[str, Any]:
    """The Observation code of a review's total: ``medreview-observation#total-daily-ome``."""
    return concept(OBSERVATION_CODES, TOTAL_DAILY_OME, DISPLAY[TOTAL_DAILY_OME], "Total daily OME (mg/day)")


def medication_names(result: OmeResult) -> dict[str, str]:
    """Every reviewed medicine's name by its reference (opioids and the others)."""
    names = {m.reference: m.name for m in result.medications}
    names |= {o.reference: o.name for o in result.others}
    return names


def _reference(ref: str, names: Mapping[str, str]) -> dict[str, Any]:
    """A Reference; one to a resource without an id (``#n``) is its display alone."""
    name = names.get(ref) or ""
    if ref.startswith("#"):
        return {"display": name or "unnamed medicine"}
    return {"reference": ref, "display": name} if name else {"reference": ref}


def _table(result: OmeResult) -> dict[str, Any]:
    text = f"OME factors: {result.factor_table} (version {result.factor_table_version})"
    return {"coding": [coding(FACTOR_TABLE_SYSTEM, result.factor_table)], "text": text}


def _component(med: MedicationOme) -> dict[str, Any]:
    component: dict[str, Any] = {
        "code": {"coding": [coding(OBSERVATION_CODES, OPIOID_OME, DISPLAY[OPIOID_OME])], "text": med.name}
    }
    if med.ome_mg_per_day is not None:
        component["valueQuantity"] = daily_ome(med.ome_mg_per_day)
    else:
        component["dataAbsentReason"] = {"coding": [coding(DATA_ABSENT, "unknown", "Unknown")]}
    return component


def ome_observation(result: OmeResult, *, patient: str, effective: datetime) -> dict[str, Any]:
    """The review's total daily OME as an Observation (UCUM mg/d), one component per opioid."""
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [coding(OBSERVATION_CATEGORY, "therapy", "Therapy")]}],
        "code": total_ome_code(),
        "subject": {"reference": patient},
        "effectiveDateTime": format_instant(effective),
        "issued": format_instant(effective),
        "valueQuantity": daily_ome(result.total_mg_per_day, lower_bound=result.incomplete),
        "method": _table(result),
    }
    total = result.total_mg_per_day
    if total >= HIGH_DOSE_MG_PER_DAY:
        code, display = ("HH", "Critical high") if total >= SPECIALIST_MG_PER_DAY else ("H", "High")
        observation["interpretation"] = [{"coding": [coding(INTERPRETATION, code, display)]}]
    if result.incomplete:
        missing = len(result.not_computable)
        observation["note"] = [
            {
                "text": f"Incomplete: the OME of {missing} opioid medicine(s) could not be computed, so the "
                "total is a lower bound."
            }
        ]
    if result.medications:
        observation["component"] = [_component(m) for m in result.medications]
    return observation


def detected_issue(
    flag: RiskFlag,
    *,
    patient: str | None,
    identified: datetime,
    names: Mapping[str, str],
    observation: str | None = None,
) -> dict[str, Any]:
    """A risk flag as a DetectedIssue: code, severity, the implicated medicines and the review as evidence."""
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "status": "final",
        "code": {
            "coding": [coding(RISK_CODES, flag.code, RISK_DISPLAY.get(flag.code))],
            "text": flag.summary,
        },
        "severity": flag.severity.value,
        "identifiedDateTime": format_instant(identified),
        "detail": f"{flag.summary}. {flag.detail} Source: {flag.source}.",
    }
    if patient:
        issue["patient"] = {"reference": patient}
    if flag.evidence:
        issue["implicated"] = [_reference(ref, names) for ref in flag.evidence]
    if observation:
        issue["evidence"] = [{"detail": [{"reference": observation}]}]
    return issue


def _medication_part(med: MedicationOme, names: Mapping[str, str]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"name": "reference", "valueReference": _reference(med.reference, names)}]
    if med.ome_mg_per_day is not None:
        parts.append({"name": "ome", "valueQuantity": daily_ome(med.ome_mg_per_day)})
    if med.factor is not None:
        parts.append({"name": "factor", "valueDecimal": number(med.factor)})
    if med.ingredient:
        parts.append({"name": "ingredient", "valueString": med.ingredient})
    if med.daily_dose is not None and med.unit:
        parts.append({"name": "dailyDose", "valueQuantity": quantity(med.daily_dose, med.unit)})
    parts += _reading_parts(med)
    if med.computable:
        parts.append({"name": "asNeeded", "valueBoolean": med.as_needed})
    else:
        reason = {
            "coding": [coding(OME_REASON_SYSTEM, med.reason_code or "unknown")],
            "text": med.reason or "The dose could not be computed",
        }
        parts.append({"name": "reason", "valueCodeableConcept": reason})
    return {"name": "medication", "part": parts}


def _reading_parts(med: MedicationOme) -> list[dict[str, Any]]:
    """How the dose was read, for a pharmacist to check at a glance (DESIGN.md "Operations")."""
    parts: list[dict[str, Any]] = []
    if med.strength:
        parts.append({"name": "strength", "valueString": med.strength})
    reading = med.reading
    # a day's total written with no frequency ("8 tablets a day") says no dose a time nor times a day
    each = reading if reading is not None and not reading.total_only else None
    if each is not None and each.dose is not None:
        parts.append({"name": "dosePerAdministration", "valueQuantity": quantity(each.dose, each.dose_unit)})
    if each is not None and each.per_day is not None:
        parts.append({"name": "administrationsPerDay", "valueDecimal": number(each.per_day)})
    if med.dosage_basis:
        parts.append({"name": "basis", "valueString": med.dosage_basis})
    if reading is not None and reading.words:
        parts.append({"name": "wordsReadAs", "valueString": " | ".join(reading.words)})
    if reading is not None and reading.loading:
        parts.append({"name": "loadingDose", "valueString": reading.loading})
    if med.unread:
        parts.append({"name": "wordsNotRead", "valueString": " | ".join(med.unread)})
    return parts


def review_parameters(
    result: OmeResult, issues: Sequence[Mapping[str, Any]], *, observation: str | None = None
) -> dict[str, Any]:
    """The ``$medication-review`` answer (contract in DESIGN.md "Operations")."""
    names = medication_names(result)
    parameters: list[dict[str, Any]] = [
        {
            "name": "totalDailyOME",
            "valueQuantity": daily_ome(result.total_mg_per_day, lower_bound=result.incomplete),
        },
        {"name": "complete", "valueBoolean": not result.incomplete},
        {"name": "factorTable", "valueCoding": coding(FACTOR_TABLE_SYSTEM, result.factor_table)},
    ]
    parameters += [_medication_part(m, names) for m in result.medications]
    parameters += [
        {"name": "notAssessed", "valueReference": _reference(o.reference, names)} for o in result.not_assessed
    ]
    parameters += [{"name": "issue", "resource": dict(issue)} for issue in issues]
    if observation:
        parameters.append({"name": "observation", "valueReference": {"reference": observation}})
    return {"resourceType": "Parameters", "parameter": parameters}


def review_bundle(observation: Mapping[str, Any], issues: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``medreview.completed`` data: the total OME Observation and the review's DetectedIssues."""
    entries = [
        {"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": dict(r)} for r in (observation, *issues)
    ]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
