"""Medication review: OME and risk flags for a patient's current medicines; each review stored as an
Observation of the total (the trend) and DetectedIssues, announced with ``medreview.completed``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.medreview.domain.medication_list import (
    by_type,
    in_list_order,
    medications_index,
    orders_in_force,
    reference,
    regimen_resources,
)
from services.medreview.domain.ome import OmeResult, oral_morphine_equivalent
from services.medreview.domain.risk import RiskFlag, risk_flags
from services.medreview.fhir_mapping import (
    detected_issue,
    medication_names,
    ome_observation,
    review_bundle,
    review_parameters,
)
from services.medreview.fhir_mapping.codes import MEDICATION_SOURCE, SOURCE_MEDREVIEW
from services.medreview.repository import repository
from shared.contracts import MEDREVIEW_COMPLETED_V1
from shared.fhir import NotFound, UnitOfWork, parse_instant

__all__ = [
    "Regimen",
    "Review",
    "current_regimen",
    "patient_owned",
    "review_bundle_resources",
    "review_patient",
    "reviewed",
]


@dataclass(frozen=True)
class Regimen:
    """What a patient takes now: the counting resources, the Medications they refer to, the source List."""

    resources: list[dict[str, Any]]
    medications: dict[str, dict[str, Any]]
    medication_list: dict[str, Any] | None


@dataclass(frozen=True)
class Review:
    result: OmeResult
    flags: tuple[RiskFlag, ...]


def reviewed(
    resources: Sequence[Mapping[str, Any]], medications: Mapping[str, Mapping[str, Any]], factor_table: str
) -> Review:
    """OME and risk flags of the given (already selected) medication resources."""
    result = oral_morphine_equivalent(resources, factor_table=factor_table, medications=medications)
    return Review(result, risk_flags(result))


def _is_own_order(resource: Mapping[str, Any]) -> bool:
    tags = (resource.get("meta") or {}).get("tag") or []
    own = any(t.get("system") == MEDICATION_SOURCE and t.get("code") == SOURCE_MEDREVIEW for t in tags)
    return own and resource.get("intent") == "order" and resource.get("status") == "active"


def current_regimen(s: UnitOfWork, patient: str) -> Regimen:
    """The patient's synced list plus the GP-approved orders the list has not caught up with (404 when the
    patient has no medication list here)."""
    listing = repository(s).medication_list(s.conn, patient, s.tenants)
    if listing is None:
        raise NotFound(f"{patient} has no medication list in this service (not enrolled, or not yours)")
    listed = [str(e.get("item", {}).get("reference")) for e in listing.get("entry") or []]
    stored = repository(s).patient_medications(s.conn, patient, s.tenants)
    from_list = [r for r in stored if reference(r) in listed]
    listed_at = parse_instant(listing["date"]) if listing.get("date") else None
    own = orders_in_force([r for r in stored if _is_own_order(r)], listed_at)
    resources = regimen_resources(in_list_order([*from_list, *own], listed))
    return Regimen(resources, repository(s).medications(s.conn, resources, s.tenants), listing)


def _store_review(s: UnitOfWork, patient: str, review: Review) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    observation = s.create(ome_observation(review.result, patient=patient, effective=s.now))
    observation_ref = f"Observation/{observation['id']}"
    names = medication_names(review.result)
    issues = [
        s.create(
            detected_issue(flag, patient=patient, identified=s.now, names=names, observation=observation_ref)
        )
        for flag in review.flags
    ]
    s.emit(MEDREVIEW_COMPLETED_V1, observation_ref, review_bundle(observation, issues))
    return observation, issues


def review_patient(s: UnitOfWork, patient: str, factor_table: str) -> dict[str, Any]:
    """Review the patient's stored current medicines; store and announce the review; the Parameters answer."""
    regimen = current_regimen(s, patient)
    review = reviewed(regimen.resources, regimen.medications, factor_table)
    observation, issues = _store_review(patient_owned(s, regimen), patient, review)
    return review_parameters(review.result, issues, observation=f"Observation/{observation['id']}")


def patient_owned(s: UnitOfWork, regimen: Regimen) -> UnitOfWork:
    """The unit of work creating resources for the practice that owns the patient's medication list."""
    if regimen.medication_list is None:
        return s
    practice = s.practice_of(f"List/{regimen.medication_list['id']}")
    return s.owned_by(practice or s.practice)


def _patient_of(resources: Sequence[Mapping[str, Any]]) -> str | None:
    subjects = {
        str((r.get("subject") or {}).get("reference", ""))
        for r in resources
        if str((r.get("subject") or {}).get("reference", "")).startswith("Patient/")
    }
    return subjects.pop() if len(subjects) == 1 else None


def review_bundle_resources(
    s: UnitOfWork, resources: Sequence[Mapping[str, Any]], factor_table: str, patient: str | None = None
) -> dict[str, Any]:
    """Review posted resources (a Bundle's); the review is stored when they name one patient."""
    meds = by_type(resources, "MedicationRequest", "MedicationStatement")
    review = reviewed(regimen_resources(meds), medications_index(resources), factor_table)
    patient = patient or _patient_of(meds)
    if patient is None:
        issues = [
            detected_issue(flag, patient=None, identified=s.now, names=medication_names(review.result))
            for flag in review.flags
        ]
        return review_parameters(review.result, issues)
    observation, issues = _store_review(s, patient, review)
    return review_parameters(review.result, issues, observation=f"Observation/{observation['id']}")
