"""The reference data the careplan service publishes (``data/``), and the intervention catalogue in it.

The files are FHIR resources (CodeSystem, ValueSet, Questionnaire, PlanDefinition, Measure); their
sources and the checks of every external code are in ``data/README.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "ACCEPTABILITY_QUESTIONNAIRE",
    "AGREEMENT_EXTENSION",
    "ASSESSMENT_QUESTIONNAIRE",
    "BUDGET_EXTENSION",
    "CAREPLAN_CATEGORY_SYSTEM",
    "CARE_TEAM_ROLE_SYSTEM",
    "COMMUNITY_STATUS_EXTENSION",
    "COMMUNITY_STATUS_SYSTEM",
    "COST_EXTENSION",
    "EVALUATION_SYSTEM",
    "FHIR_BASE",
    "GP_TASK_TYPE_SYSTEM",
    "INTERVENTION_SYSTEM",
    "PAIN_MANAGEMENT_CATEGORY",
    "SESSION_NOTE_EXTENSION",
    "SNOMED",
    "SOCIAL_PRESCRIBING_CATEGORY",
    "Intervention",
    "definitions",
    "interventions",
    "role_coding",
]

DATA = Path(__file__).parents[1] / "data"
FHIR_BASE = "https://pain-review.example.org/fhir"
SNOMED = "http://snomed.info/sct"
INTERVENTION_SYSTEM = f"{FHIR_BASE}/CodeSystem/pain-review-intervention"
CARE_TEAM_ROLE_SYSTEM = f"{FHIR_BASE}/CodeSystem/care-team-role"
CAREPLAN_CATEGORY_SYSTEM = f"{FHIR_BASE}/CodeSystem/careplan-category"
COMMUNITY_STATUS_SYSTEM = f"{FHIR_BASE}/CodeSystem/community-service-status"
EVALUATION_SYSTEM = f"{FHIR_BASE}/CodeSystem/service-evaluation"
GP_TASK_TYPE_SYSTEM = f"{FHIR_BASE}/CodeSystem/gp-task-type"
ASSESSMENT_QUESTIONNAIRE = f"{FHIR_BASE}/Questionnaire/pain-review-assessment"
ACCEPTABILITY_QUESTIONNAIRE = f"{FHIR_BASE}/Questionnaire/pain-review-acceptability"

# Extensions this service defines (documented in README.md beside this file).
COST_EXTENSION = f"{FHIR_BASE}/StructureDefinition/community-service-cost"
COMMUNITY_STATUS_EXTENSION = f"{FHIR_BASE}/StructureDefinition/community-service-status"
BUDGET_EXTENSION = f"{FHIR_BASE}/StructureDefinition/community-budget"
AGREEMENT_EXTENSION = f"{FHIR_BASE}/StructureDefinition/plan-agreement"
SESSION_NOTE_EXTENSION = f"{FHIR_BASE}/StructureDefinition/session-note"

PAIN_MANAGEMENT_CATEGORY: dict[str, Any] = {
    "coding": [
        {"system": CAREPLAN_CATEGORY_SYSTEM, "code": "pain-management", "display": "Pain management plan"},
        {"system": SNOMED, "code": "278414003", "display": "Pain management"},
    ],
    "text": "Pain management plan",
}


@dataclass(frozen=True, slots=True)
class Intervention:
    """One catalogue entry: ``setting`` is ``within-session`` or ``community``; ``paper_share`` in percent."""

    code: str
    display: str
    setting: str
    snomed: dict[str, str] | None
    paper_share: int | None

    def coding(self) -> dict[str, str]:
        return {"system": INTERVENTION_SYSTEM, "code": self.code, "display": self.display}

    def concept(self) -> dict[str, Any]:
        """A CodeableConcept with the SNOMED CT concept beside ours where one was verified."""
        codings: list[dict[str, str]] = [self.coding()]
        if self.snomed:
            codings.append(self.snomed)
        return {"coding": codings, "text": self.display}


def _load(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return value


@cache
def definitions() -> tuple[dict[str, Any], ...]:
    """Every published resource in ``data/`` (sorted by file name)."""
    return tuple(_load(path.name) for path in sorted(DATA.glob("*.json")))


def _property(concept: dict[str, Any], code: str) -> dict[str, Any] | None:
    for prop in concept.get("property", []):
        if prop["code"] == code:
            value: dict[str, Any] = prop
            return value
    return None


@cache
def interventions() -> dict[str, Intervention]:
    """The catalogue by code, in the CodeSystem's order."""
    found: dict[str, Intervention] = {}
    for concept in _load("codesystem-intervention.json")["concept"]:
        setting = _property(concept, "setting")
        snomed = _property(concept, "snomed-related")
        share = _property(concept, "paper-share")
        found[concept["code"]] = Intervention(
            code=concept["code"],
            display=concept["display"],
            setting=setting["valueCode"] if setting else "within-session",
            snomed=snomed["valueCoding"] if snomed else None,
            paper_share=share["valueInteger"] if share else None,
        )
    return found


@cache
def _roles() -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in _load("codesystem-care-team-role.json")["concept"]}


def role_coding(code: str) -> dict[str, Any]:
    """A care team role as a CodeableConcept (with its SNOMED CT occupation where verified)."""
    concept = _roles()[code]
    codings: list[dict[str, Any]] = [
        {"system": CARE_TEAM_ROLE_SYSTEM, "code": code, "display": concept["display"]}
    ]
    snomed = _property(concept, "snomed-related")
    if snomed:
        codings.append(snomed["valueCoding"])
    return {"coding": codings, "text": concept["display"]}


SOCIAL_PRESCRIBING_CATEGORY: dict[str, Any] = {
    "coding": [
        {
            "system": CAREPLAN_CATEGORY_SYSTEM,
            "code": "social-prescribing",
            "display": "Community service or social prescribing",
        }
    ]
}
