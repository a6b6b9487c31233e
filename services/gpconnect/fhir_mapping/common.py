"""Small helpers the STU3 to R4 mappers share: copying fields, references, extensions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "GPC_EXT",
    "UKCORE_EXT",
    "JsonObject",
    "copy_fields",
    "extension",
    "extensions",
    "map_reference",
]

JsonObject = dict[str, Any]

GPC_EXT = "https://fhir.nhs.uk/STU3/StructureDefinition/"
"""Where GP Connect's STU3 extensions live (``Extension-CareConnect-GPC-...-1``)."""
CARECONNECT_EXT = "https://fhir.hl7.org.uk/STU3/StructureDefinition/"
UKCORE_EXT = "https://fhir.hl7.org.uk/StructureDefinition/"
"""Where UK Core's R4 extensions live (``Extension-UKCore-...``)."""

EXPORTED_TYPES = frozenset({"MedicationRequest", "MedicationStatement", "Medication", "Condition"})


def copy_fields(source: Mapping[str, Any], names: Iterable[str]) -> JsonObject:
    """The fields of ``source`` named in ``names`` that are present (same shape in STU3 and R4)."""
    return {name: source[name] for name in names if name in source}


def extensions(resource: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The extensions of ``resource`` whose URL ends with ``name`` (GP Connect and CareConnect spellings).

    Suppliers publish some extensions under ``fhir.nhs.uk`` and others under ``fhir.hl7.org.uk``; the
    name after the last slash is what identifies them, e.g. ``Extension-CareConnect-GPC-PrescriptionType-1``.
    """
    found = []
    for ext in resource.get("extension", ()):
        url = str(ext.get("url", ""))
        if url.rsplit("/", 1)[-1] == name:
            found.append(ext)
    return found


def extension(resource: Mapping[str, Any], *names: str) -> Mapping[str, Any] | None:
    """The first extension of ``resource`` named by any of ``names``, or None."""
    for name in names:
        found = extensions(resource, name)
        if found:
            return found[0]
    return None


def map_reference(reference: Mapping[str, Any] | None, patient_reference: str) -> JsonObject | None:
    """A reference kept in the R4 output: the patient becomes ``patient_reference``; references to the
    medication and problem resources we carry are kept; references to resources we do not carry
    (practitioners, organisations, encounters) are dropped rather than left dangling."""
    if not reference:
        return None
    target = str(reference.get("reference", ""))
    resource_type = target.split("/", 1)[0] if "/" in target else ""
    if resource_type == "Patient":
        return {"reference": patient_reference}
    if resource_type in EXPORTED_TYPES:
        return {"reference": target}
    return None


def map_references(references: Iterable[Mapping[str, Any]], patient_reference: str) -> list[JsonObject]:
    kept = (map_reference(r, patient_reference) for r in references)
    return [r for r in kept if r is not None]
