"""A GP Connect structured record (STU3 collection Bundle) to the R4 ``medication.list-synced`` Bundle."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from services.gpconnect.fhir_mapping.common import JsonObject
from services.gpconnect.fhir_mapping.conditions import map_condition
from services.gpconnect.fhir_mapping.medications import (
    map_medication,
    map_medication_request,
    map_medication_statement,
)

__all__ = [
    "MEDICATION_LIST_CODE",
    "PROBLEM_LIST_CODE",
    "RecordMismatch",
    "map_structured_record",
    "structured_record_patient_nhs_number",
]

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
MEDICATION_LIST_CODE = "933361000000108"
"""SNOMED CT 'Medications and medical devices': the GP Connect List that indexes the medication record."""
PROBLEM_LIST_CODE = "717711000000103"
"""SNOMED CT 'Problems': the GP Connect List of problem headers."""

_ORDER = ("MedicationStatement", "MedicationRequest", "Medication", "Condition")


class RecordMismatch(ValueError):
    """The GP system returned a record that is not the requested patient's, or not a structured record."""


_MAPPERS: dict[str, Callable[[Mapping[str, Any], str], JsonObject]] = {
    "MedicationStatement": map_medication_statement,
    "MedicationRequest": map_medication_request,
    "Condition": map_condition,
    "Medication": lambda resource, _patient: map_medication(resource),
}


def _resources(bundle: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "collection":
        raise RecordMismatch("a GP Connect structured record is a collection Bundle")
    return [e["resource"] for e in bundle.get("entry", ()) if isinstance(e.get("resource"), dict)]


def _nhs_number(resource: Mapping[str, Any]) -> str | None:
    for identifier in resource.get("identifier", ()):
        if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
            return str(identifier["value"]).replace(" ", "")
    return None


def structured_record_patient_nhs_number(bundle: Mapping[str, Any]) -> str | None:
    """The NHS number of the (single) Patient in a structured record, or None when there is none."""
    patients = [r for r in _resources(bundle) if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise RecordMismatch(f"a structured record holds exactly one Patient, this one holds {len(patients)}")
    return _nhs_number(patients[0])


def _problem_ids(resources: list[Mapping[str, Any]]) -> set[str] | None:
    """Ids of the conditions on the problem list, or None when the record has no problem List."""
    for resource in resources:
        if resource.get("resourceType") != "List":
            continue
        codes = {c.get("code") for c in resource.get("code", {}).get("coding", ())}
        if PROBLEM_LIST_CODE in codes:
            refs = (str(e.get("item", {}).get("reference", "")) for e in resource.get("entry", ()))
            return {r.split("/", 1)[1] for r in refs if r.startswith("Condition/")}
    return None


def map_structured_record(bundle: Mapping[str, Any], *, patient: Mapping[str, Any]) -> JsonObject:
    """The R4 collection Bundle of ``medication.list-synced`` (docs/EVENTS.md).

    ``patient`` is the referral service's R4 Patient: it comes first and every mapped resource refers to
    it. The record's own Patient must carry the same NHS number (a GP Connect consumer checks the
    demographics it receives), else :class:`RecordMismatch`. Conditions are the problem list's when the
    record has one, else every Condition in it.
    """
    resources = _resources(bundle)
    expected = _nhs_number(patient)
    received = structured_record_patient_nhs_number(bundle)
    if expected is None or received != expected:
        raise RecordMismatch("the structured record is not the requested patient's")
    patient_reference = f"Patient/{patient['id']}"
    problems = _problem_ids(resources)
    mapped: list[JsonObject] = []
    for resource_type in _ORDER:
        for resource in resources:
            if resource.get("resourceType") != resource_type or "id" not in resource:
                continue
            if resource_type == "Condition" and problems is not None and resource["id"] not in problems:
                continue
            mapped.append(_MAPPERS[resource_type](resource, patient_reference))
    entries = [{"fullUrl": f"Patient/{patient['id']}", "resource": dict(patient)}]
    entries += [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in mapped]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
