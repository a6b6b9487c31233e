"""GP Connect problems (STU3 ``Condition``, the ProblemHeader profile) to R4 ``Condition``.

STU3 carries ``clinicalStatus`` and ``verificationStatus`` as codes and ``assertedDate``; R4 carries
CodeableConcepts and ``recordedDate``, and has no ``abatementBoolean``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.gpconnect.fhir_mapping.common import UKCORE_EXT, JsonObject, copy_fields

__all__ = ["map_condition"]

CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_STU3_CATEGORY = "http://hl7.org/fhir/condition-category"
_R4_VERIFICATION = frozenset(
    {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}
)
_ONSET_ABATEMENT = ("DateTime", "Age", "Period", "Range", "String")


def _concept(system: str, code: str) -> JsonObject:
    return {"coding": [{"system": system, "code": code}]}


def _category(category: Mapping[str, Any]) -> JsonObject:
    mapped = dict(category)
    mapped["coding"] = [
        {**c, "system": CATEGORY} if c.get("system") == _STU3_CATEGORY else dict(c)
        for c in category.get("coding", ())
    ]
    return mapped


def map_condition(condition: Mapping[str, Any], patient_reference: str) -> JsonObject:
    """One R4 Condition; a problem marked abated (``abatementBoolean: true``) becomes resolved."""
    mapped: JsonObject = {
        "resourceType": "Condition",
        "id": condition["id"],
        "meta": {"profile": [f"{UKCORE_EXT}UKCore-Condition"]},
    }
    mapped.update(copy_fields(condition, ("identifier", "severity", "code", "bodySite", "evidence", "note")))
    status = condition.get("clinicalStatus")
    if condition.get("abatementBoolean") is True and status in (None, "active", "recurrence"):
        status = "resolved"
    if isinstance(status, str):
        mapped["clinicalStatus"] = _concept(CLINICAL_STATUS, status)
    verification = condition.get("verificationStatus")
    if isinstance(verification, str) and verification in _R4_VERIFICATION:
        mapped["verificationStatus"] = _concept(VERIFICATION_STATUS, verification)
    if condition.get("category"):
        mapped["category"] = [_category(c) for c in condition["category"]]
    mapped["subject"] = {"reference": patient_reference}
    for suffix in _ONSET_ABATEMENT:
        for field in (f"onset{suffix}", f"abatement{suffix}"):
            if field in condition:
                mapped[field] = condition[field]
    if "assertedDate" in condition:
        mapped["recordedDate"] = condition["assertedDate"]
    if "stage" in condition:
        mapped["stage"] = [copy_fields(condition["stage"], ("summary", "assessment"))]
    return mapped
