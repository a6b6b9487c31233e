"""Explainable screening for `$screen`: rank patients for review, one patient at a time.

The service evaluation's screening tool flooded project workers with unranked records; this ranks and
says why. `screen_patient` scores one patient's records; `group_by_patient` turns a stream of resources
(NDJSON lines, Bundle entries) into one record set at a time, so memory stays flat however many
patients stream through; `top_ranked` keeps only the best N.

Score (points; `ScreeningWeights` holds every number): the opioid dose as oral morphine equivalent
(mg/day, 1 point per 20 mg, at most 10), time on opioids (1 point per 12 months, at most 3), opioid
prescriptions in the course (1 point per 12, at most 2: it overlaps with time), co-prescribed
benzodiazepine (3), gabapentinoid (2) or Z-drug (1.5), and more than one opioid (2). Dose leads because
harm rises with it; sedatives next because with opioids they raise the risk of overdose. The dose is
computed by the one OME engine (`shared.medicines`), the same function and data as the medication
review: a dose it cannot read is shown as not computable, never estimated (a dispensed quantity is not
a dose). Patients are ranked eligible first, then needs-review, then ineligible, each by score.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from services.referral.domain.eligibility import (
    FHIR_BASE,
    Coding,
    Decision,
    EligibilityResult,
    MedicineRecord,
    PatientRecords,
    add_months,
    assess_eligibility,
    distinct_medicines,
    latest_opioid_course,
    load_data,
)
from shared.medicines.ome import oral_morphine_equivalent

__all__ = [
    "SCREENING_SIGNAL_SYSTEM",
    "ScreeningResult",
    "ScreeningWeights",
    "Signal",
    "UngroupedInputError",
    "daily_ome_mg",
    "group_by_patient",
    "patient_key",
    "rank",
    "screen",
    "screen_patient",
    "top_ranked",
]

SCREENING_SIGNAL_SYSTEM = f"{FHIR_BASE}/CodeSystem/screening-signal"
HIGH_DOSE_MG_A_DAY = 120.0  # Faculty of Pain Medicine, Opioids Aware
CURRENT_MONTHS = 3  # a medicine prescribed within this many months of the referral is "current"
Resource = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ScreeningWeights:
    """Points per signal; the defaults are a starting point for project workers to tune."""

    mg_ome_per_point: float = 20.0
    max_dose_points: float = 10.0
    months_per_point: float = 12.0
    max_duration_points: float = 3.0
    prescriptions_per_point: float = 12.0
    max_prescription_points: float = 2.0
    benzodiazepine: float = 3.0
    gabapentinoid: float = 2.0
    z_drug: float = 1.5
    multiple_opioids: float = 2.0


@dataclass(frozen=True, slots=True)
class Signal:
    coding: Coding
    points: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    patient_key: str
    eligibility: EligibilityResult
    score: float
    signals: tuple[Signal, ...]  # most points first
    daily_ome_mg: float | None  # None when no current opioid dose could be estimated

    @property
    def sort_key(self) -> tuple[int, float, str]:
        """Eligible before needs-review before ineligible; then higher score; then key, for stable order."""
        order = (Decision.ELIGIBLE, Decision.NEEDS_REVIEW, Decision.INELIGIBLE)
        return order.index(self.eligibility.decision), -self.score, self.patient_key


class UngroupedInputError(ValueError):
    """A patient's resources reappeared after another patient's: the input is not grouped by patient."""


@cache
def _signal_displays() -> dict[str, str]:
    return {c["code"]: c["display"] for c in load_data("codesystem-screening-signal.json")["concept"]}


def _signal(code: str, points: float, detail: str = "") -> Signal:
    return Signal(Coding(SCREENING_SIGNAL_SYSTEM, code, _signal_displays()[code]), round(points, 2), detail)


def daily_ome_mg(record: MedicineRecord) -> float | None:
    """Oral morphine equivalent of one opioid record in mg/day, by the one OME engine; None if not computable.

    The record counts as taken (screening decides what is current by its dates, not its status); a record
    that names its medicine only through a Medication elsewhere is read by the name screening recognised.
    """
    resource = dict(record.resource)
    resource["status"] = "active"
    if not isinstance(resource.get("medicationCodeableConcept"), Mapping) and record.name:
        resource["medicationCodeableConcept"] = {"text": record.name}
    result = oral_morphine_equivalent([resource])
    if result.incomplete or not result.medications:
        return None
    return float(result.total_mg_per_day)


def _current(medicines: list[MedicineRecord], on: date) -> list[MedicineRecord]:
    since = add_months(on, -CURRENT_MONTHS)
    return [
        m for m in medicines if m.start is not None and m.start <= on and (m.covered_until(on) or on) >= since
    ]


def screen_patient(
    records: PatientRecords, referral_date: date, weights: ScreeningWeights = ScreeningWeights()
) -> ScreeningResult:
    """Eligibility, a score and its ranked signals for one patient on `referral_date`."""
    medicines = distinct_medicines(records.medications)
    eligibility = assess_eligibility(records, referral_date, medicines)
    current = _current(medicines, referral_date)
    signals: list[Signal] = []
    latest: dict[str, MedicineRecord] = {}
    for record in sorted(
        (m for m in current if "opioid" in m.classes), key=lambda m: m.start or referral_date
    ):
        latest[",".join(sorted(record.ingredients))] = record
    doses = {name: daily_ome_mg(record) for name, record in latest.items()}
    total = sum(d for d in doses.values() if d is not None) if any(doses.values()) else None
    if total is not None:
        code = "high-opioid-dose" if total >= HIGH_DOSE_MG_A_DAY else "opioid-dose"
        points = min(total / weights.mg_ome_per_point, weights.max_dose_points)
        signals.append(_signal(code, points, f"about {total:.0f} mg/day oral morphine equivalent"))
    if unreadable := sorted(name for name, dose in doses.items() if dose is None):
        signals.append(_signal("opioid-dose-not-computable", 0, ", ".join(unreadable)))
    if course := latest_opioid_course(medicines, referral_date):
        months = (referral_date.year - course.first.year) * 12 + referral_date.month - course.first.month
        months -= referral_date.day < course.first.day
        points = min(months / weights.months_per_point, weights.max_duration_points)
        signals.append(_signal("opioid-duration", points, f"{months} months since {course.first}"))
        count = len(course.prescriptions)
        points = min(count / weights.prescriptions_per_point, weights.max_prescription_points)
        signals.append(_signal("opioid-prescription-count", points, f"{count} prescriptions"))
    if len(latest) > 1:
        signals.append(_signal("multiple-opioids", weights.multiple_opioids, "; ".join(sorted(latest))))
    if latest:
        for drug_class, points in (
            ("benzodiazepine", weights.benzodiazepine),
            ("gabapentinoid", weights.gabapentinoid),
            ("z-drug", weights.z_drug),
        ):
            names = sorted({i for m in current if drug_class in m.classes for i in m.ingredients})
            if names:
                signals.append(_signal(f"{drug_class}-co-prescribed", points, ", ".join(names)))
    signals.sort(key=lambda s: -s.points)
    score = round(sum(s.points for s in signals), 2)
    return ScreeningResult(records.key, eligibility, score, tuple(signals), total)


def patient_key(resource: Resource) -> str | None:
    """ "Patient/<id>" for a Patient, or the patient its subject/patient reference points at; else None.

    Absolute references keep their last two segments; `urn:uuid:` references are returned as they are,
    so a Bundle's references must be resolved by the caller before grouping.
    """
    if resource.get("resourceType") == "Patient":
        return f"Patient/{resource['id']}" if resource.get("id") else None
    for name in ("subject", "patient"):
        reference = str((resource.get(name) or {}).get("reference", ""))
        if "Patient/" in reference:
            return "Patient/" + reference.rsplit("Patient/", 1)[1].split("/")[0]
        if reference.startswith("urn:uuid:"):
            return reference
    return None


def group_by_patient(
    resources: Iterable[Resource], on_unattached: Callable[[Resource], None] | None = None
) -> Iterator[PatientRecords]:
    """One `PatientRecords` per patient from a stream in which each patient's resources are contiguous.

    Assumption: the input is grouped (or sorted) by patient, the types within a group in any order
    (Patient, MedicationRequest, Condition, ... interleaved), as a per-patient export or a
    `sort`-by-patient NDJSON gives. Only one group is held at a time; a patient met again after
    another raises `UngroupedInputError` (the ids already seen are kept to tell: a short string each).
    Resources with no patient (Medication, Organization, ...) go to `on_unattached`, if given.
    """
    current: str | None = None
    group: list[Resource] = []
    finished: set[str] = set()
    for resource in resources:
        key = patient_key(resource)
        if key is None:
            if on_unattached is not None:
                on_unattached(resource)
            continue
        if key != current:
            if current is not None:
                yield PatientRecords.from_resources(current, group)
                finished.add(current)
            if key in finished:
                raise UngroupedInputError(f"{key} appears again after other patients' resources")
            current, group = key, []
        group.append(resource)
    if current is not None:
        yield PatientRecords.from_resources(current, group)


def screen(
    resources: Iterable[Resource],
    referral_date: date,
    weights: ScreeningWeights = ScreeningWeights(),
    on_unattached: Callable[[Resource], None] | None = None,
) -> Iterator[ScreeningResult]:
    """Screen a patient-grouped stream of resources lazily, one result per patient, in input order."""
    for records in group_by_patient(resources, on_unattached):
        yield screen_patient(records, referral_date, weights)


def rank(results: Iterable[ScreeningResult]) -> list[ScreeningResult]:
    """Every result, best first (holds them all: use `top_ranked` to bound memory)."""
    return sorted(results, key=lambda r: r.sort_key)


def top_ranked(results: Iterable[ScreeningResult], n: int) -> list[ScreeningResult]:
    """The best `n` results, best first, holding no more than `n` at a time."""
    return heapq.nsmallest(n, results, key=lambda r: r.sort_key)
