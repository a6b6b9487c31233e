"""The eligibility vocabulary: constants, decisions, reasons and one patient's record set."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from importlib.resources import files
from typing import Any, Literal

# fmt: off
__all__ = [
    "ADULT_AGE", "DMD_SYSTEM", "ELIGIBILITY_REASON_SYSTEM", "FHIR_BASE", "LONG_TERM_MONTHS", "MAX_GAP_MONTHS",
    "MIN_PRESCRIPTIONS", "SNOMED_SYSTEM", "Coding", "Decision", "EligibilityResult", "MedicineRecord",
    "OpioidCourse", "Outcome", "PatientRecords", "Reason", "Resource", "State", "load_data",
]
# fmt: on

FHIR_BASE = "https://pain-review.example.org/fhir"
ELIGIBILITY_REASON_SYSTEM = f"{FHIR_BASE}/CodeSystem/eligibility-reason"
SNOMED_SYSTEM = "http://snomed.info/sct"
DMD_SYSTEM = "https://dmd.nhs.uk"
ADULT_AGE = 18
LONG_TERM_MONTHS = 3  # strictly more than this many calendar months
MAX_GAP_MONTHS = 3  # a longer gap between opioid prescriptions starts a new course
MIN_PRESCRIPTIONS = 3

Resource = Mapping[str, Any]
State = Literal["active", "inactive", "unknown"]


class Decision(StrEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    NEEDS_REVIEW = "needs-review"


class Outcome(StrEnum):
    """How a reason bears on the decision; declared order is the order reasons are listed in."""

    EXCLUDED = "excluded"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"
    MET = "met"
    NOTED = "noted"


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str

    def as_fhir(self) -> dict[str, str]:
        """The FHIR R4 Coding JSON."""
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True, slots=True)
class Reason:
    coding: Coding
    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class EligibilityResult:
    decision: Decision
    reasons: tuple[Reason, ...]  # deciding reasons first: excluded, not-met, unknown, met, noted


@dataclass(frozen=True, slots=True)
class PatientRecords:
    """One patient's resources: `key` is "Patient/<id>"; anything but the types below is ignored."""

    key: str
    patient: Resource | None = None
    medications: tuple[Resource, ...] = ()  # MedicationRequest and MedicationStatement
    conditions: tuple[Resource, ...] = ()
    flags: tuple[Resource, ...] = ()

    @classmethod
    def from_resources(cls, key: str, resources: Iterable[Resource]) -> PatientRecords:
        """Sort one patient's resources (any order, any types) into a record set; the first Patient wins."""
        patient: Resource | None = None
        meds: list[Resource] = []
        conditions: list[Resource] = []
        flags: list[Resource] = []
        for resource in resources:
            kind = resource.get("resourceType")
            if kind == "Patient" and patient is None:
                patient = resource
            elif kind in ("MedicationRequest", "MedicationStatement"):
                meds.append(resource)
            elif kind == "Condition":
                conditions.append(resource)
            elif kind == "Flag":
                flags.append(resource)
        return cls(key, patient, tuple(meds), tuple(conditions), tuple(flags))


@dataclass(frozen=True, slots=True)
class MedicineRecord:
    """What the rules need from one MedicationRequest/MedicationStatement."""

    name: str  # lower-cased text and displays, "" when the record names nothing
    ingredients: frozenset[str]  # e.g. {"codeine"}; empty when nothing known was recognised
    classes: frozenset[str]  # "opioid", "benzodiazepine", "gabapentinoid", "z-drug"
    recognised: bool  # a known code matched, or there was a name to read
    start: date | None  # None when not fully dated
    end: date | None = None
    ongoing: bool = False  # an active MedicationStatement with no end
    resource: Resource = field(default_factory=dict, compare=False, repr=False)

    def covered_until(self, on: date) -> date | None:
        """The last day (no later than `on`) this record shows the medicine prescribed."""
        if self.start is None:
            return None
        last = max(self.start, self.end or self.start)
        return on if self.ongoing else min(last, on)


@dataclass(frozen=True, slots=True)
class OpioidCourse:
    prescriptions: tuple[MedicineRecord, ...]  # sorted by start date
    first: date
    covered_until: date


def load_data(name: str) -> Any:
    """A JSON file from `services/referral/data/` (packaged reference data, read once by callers' caches)."""
    return json.loads((files("services.referral") / "data" / name).read_text(encoding="utf-8"))
