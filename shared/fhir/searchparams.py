"""Search parameters, declared in one place, and the extraction of their values from resources.

A parameter has a FHIR search type and one or more simple paths (dotted element names; lists are
walked; ``[x]`` choice elements are written with their suffixes). Each kernel holds its own
``SearchParams`` (the standard ones, plus any its service adds while composing it); the
CapabilityStatement lists exactly what that kernel declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from shared.fhir.values import parse_instant

SearchType = Literal["token", "reference", "string", "date"]

__all__ = [
    "COMMON_PARAMS",
    "UNRESOLVED_PATIENT",
    "IndexValue",
    "SearchParam",
    "SearchParams",
    "date_range",
    "patient_of",
]


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: SearchType
    paths: tuple[str, ...]
    documentation: str = ""


@dataclass(frozen=True)
class IndexValue:
    param: str
    system: str | None
    value: str | None
    value_high: str | None = None


# Parameters handled by the store itself, not the index.
COMMON_PARAMS = {
    "_id": SearchParam("_id", "token", ("id",), "Logical id"),
    "_lastUpdated": SearchParam("_lastUpdated", "date", ("meta.lastUpdated",), "When last changed"),
}

_PATIENT_PATHS = (
    "subject.reference",
    "patient.reference",
    "beneficiary.reference",
    "for.reference",
    "participant.actor.reference",  # an Appointment's patient is one of its participants
)

TARGET_PATIENT_EXTENSION = "https://pain-review.example.org/fhir/StructureDefinition/target-patient"
"""On a Provenance: the patient its target belongs to. R4 puts a Provenance in a patient's compartment
only when its target is the Patient; this puts the Provenance of any of their resources there, so that
it is seen exactly by those who see its target."""


class SearchParams:
    """The search parameters one kernel serves: the standard ones (``standard()``) and any a service
    adds when it composes its kernel (``add``). Each kernel has its own, so one service's parameters
    are neither indexed nor advertised by another, and nothing is declared at import time."""

    def __init__(self) -> None:
        self._by_type: dict[str, dict[str, SearchParam]] = {}

    @classmethod
    def standard(cls) -> SearchParams:
        """A registry holding the parameters common to the resources this system stores."""
        params = cls()
        _declare_standard(params)
        return params

    def add(self, resource_type: str, name: str, type_: SearchType, *paths: str, doc: str = "") -> None:
        """Declare (or redeclare) ``name`` on ``resource_type``: its type and element paths."""
        self._by_type.setdefault(resource_type, {})[name] = SearchParam(name, type_, tuple(paths), doc)

    def of(self, resource_type: str) -> dict[str, SearchParam]:
        """Every search parameter of a type, the common ones included."""
        return {**COMMON_PARAMS, **self._by_type.get(resource_type, {})}

    def index_values(self, resource: dict[str, Any]) -> list[IndexValue]:
        """Every index value of a resource for the parameters declared for its type."""
        rows: list[IndexValue] = []
        for param in self._by_type.get(resource["resourceType"], {}).values():
            for path in param.paths:
                for node in _walk(resource, path.split(".")):
                    rows.extend(_values(param, node))
        return rows


def _walk(node: Any, parts: list[str]) -> Iterator[Any]:
    if not parts:
        if isinstance(node, list):
            yield from node
        elif node is not None:
            yield node
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, parts)
        return
    if isinstance(node, dict):
        yield from _walk(node.get(parts[0]), parts[1:])


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")  # UTC, fixed width: sorts as text


def date_range(value: str) -> tuple[str, str] | None:
    """The UTC instant range a FHIR date, dateTime or instant covers, as sortable strings."""
    text = value.strip()
    try:
        if len(text) == 4:
            low = datetime(int(text), 1, 1, tzinfo=UTC)
            high = datetime(int(text) + 1, 1, 1, tzinfo=UTC)
        elif len(text) == 7:
            year, month = int(text[:4]), int(text[5:7])
            low = datetime(year, month, 1, tzinfo=UTC)
            high = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        elif len(text) == 10:
            low = datetime.fromisoformat(text).replace(tzinfo=UTC)
            high = low + timedelta(days=1)
        else:
            moment = parse_instant(text)
            return _iso(moment), _iso(moment)
    except ValueError:
        return None
    return _iso(low), _iso(high - timedelta(microseconds=1))


def _values(param: SearchParam, node: Any) -> Iterator[IndexValue]:
    name = param.name
    if param.type == "token":
        if isinstance(node, str | bool | int):
            yield IndexValue(name, None, str(node).lower() if isinstance(node, bool) else str(node))
        elif isinstance(node, dict):
            if "coding" in node:
                for coding in node.get("coding") or []:
                    yield IndexValue(name, coding.get("system"), coding.get("code"))
            elif "value" in node or "code" in node:  # Identifier, Coding
                yield IndexValue(name, node.get("system"), node.get("value", node.get("code")))
    elif param.type == "reference":
        if isinstance(node, str):
            yield IndexValue(name, None, node)
        elif isinstance(node, dict) and isinstance(node.get("reference"), str):
            yield IndexValue(name, None, node["reference"])
    elif param.type == "string":
        if isinstance(node, str):
            yield IndexValue(name, None, node.lower()[:255])
        elif isinstance(node, dict):  # HumanName, Address: index the text parts
            for key in ("text", "family", "given", "line", "city", "postalCode"):
                for part in _walk(node, [key]):
                    if isinstance(part, str):
                        yield IndexValue(name, None, part.lower()[:255])
    elif param.type == "date":
        if isinstance(node, str) and (span := date_range(node)):
            yield IndexValue(name, None, span[0], span[1])
        elif isinstance(node, dict):  # Period
            start = date_range(node["start"]) if isinstance(node.get("start"), str) else None
            end = date_range(node["end"]) if isinstance(node.get("end"), str) else None
            yield IndexValue(name, None, start[0] if start else "0001", end[1] if end else "9999")


UNRESOLVED_PATIENT = "Patient/#unresolved"
"""The patient recorded for a resource whose patient reference names no ``Patient/<id>`` of ours (an
identifier or display only): no such patient is ever enrolled, so service staff never see it (fails
closed) while its practice still does. ``#`` cannot occur in an id, so no Patient can take its place."""

_PATIENT_ELEMENTS = frozenset({"subject", "patient", "beneficiary", "for"})
_PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-\.]{1,64})(?:/_history/[^/]+)?$")


def _patient_reference(element: Any, *, typed_only: bool) -> str | None:
    """``Patient/<id>`` for a Reference to a patient, whether relative, absolute
    (``https://.../Patient/<id>``) or versioned; ``UNRESOLVED_PATIENT`` for one to a patient by
    identifier or display only; ``None`` for a reference to anything else."""
    if not isinstance(element, dict):
        return None
    reference = element.get("reference")
    if isinstance(reference, str) and reference:
        if reference.startswith("urn:"):  # a Bundle-local reference, resolved before anything is stored
            return None
        path = reference.split("?", 1)[0]  # a conditional reference names the type before its query
        match = _PATIENT_REFERENCE.search(path)
        if match is not None:
            return f"Patient/{match.group(1)}"
        return UNRESOLVED_PATIENT if "Patient" in path.split("/") else None
    kind = element.get("type")
    if (kind == "Patient" or (kind is None and not typed_only)) and (
        element.get("identifier") or element.get("display")
    ):
        return UNRESOLVED_PATIENT
    return None


def patient_of(resource: dict[str, Any]) -> str | None:
    """The patient compartment a resource belongs to ("Patient/<id>"), when it names one; a reference
    that names a patient only by identifier (or any other way we cannot resolve) gives
    ``UNRESOLVED_PATIENT``, so that a resource about a patient always records one."""
    if resource["resourceType"] == "Patient":
        return f"Patient/{resource['id']}" if resource.get("id") else None
    unresolved = False
    for path in _PATIENT_PATHS:
        element_path = path.split(".")[:-1]  # the Reference elements, not their .reference strings
        typed_only = element_path[-1] not in _PATIENT_ELEMENTS or len(element_path) > 1
        for element in _walk(resource, element_path):
            found = _patient_reference(element, typed_only=typed_only)
            if found == UNRESOLVED_PATIENT:
                unresolved = True
            elif found is not None:
                return found
    for extension in resource.get("extension") or ():
        if isinstance(extension, dict) and extension.get("url") == TARGET_PATIENT_EXTENSION:
            ref = (extension.get("valueReference") or {}).get("reference")
            if isinstance(ref, str) and ref.startswith("Patient/"):
                return ref
    return UNRESOLVED_PATIENT if unresolved else None


def _declare_standard(params: SearchParams) -> None:
    """Parameters common to the resources this system stores (R4 definitions, simplified paths)."""
    identifier: tuple[str, SearchType, str] = ("identifier", "token", "identifier")
    patient_linked = {
        "ServiceRequest": ("subject",),
        "Task": ("for",),
        "Communication": ("subject",),
        "Consent": ("patient",),
        "EpisodeOfCare": ("patient",),
        "Condition": ("subject",),
        "MedicationRequest": ("subject",),
        "MedicationStatement": ("subject",),
        "Observation": ("subject",),
        "CarePlan": ("subject",),
        "Goal": ("subject",),
        "CareTeam": ("subject",),
        "Encounter": ("subject",),
        "Appointment": ("participant.actor",),
        "QuestionnaireResponse": ("subject",),
        "DetectedIssue": ("patient",),
        "MeasureReport": ("subject",),
        "AuditEvent": ("entity.what",),
        "Provenance": ("target",),
    }
    for resource_type, paths in patient_linked.items():
        params.add(resource_type, "patient", "reference", *(f"{p}" for p in paths))
        if "subject" in paths:
            params.add(resource_type, "subject", "reference", "subject")
        params.add(resource_type, *identifier)
    for resource_type in (
        "ServiceRequest",
        "Task",
        "Communication",
        "Consent",
        "EpisodeOfCare",
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "Observation",
        "CarePlan",
        "CareTeam",
        "Encounter",
        "Appointment",
        "QuestionnaireResponse",
        "DetectedIssue",
        "MeasureReport",
        "Questionnaire",
        "PlanDefinition",
        "CodeSystem",
        "ValueSet",
        "Measure",
        "Medication",
    ):
        params.add(resource_type, "status", "token", "status")
    for resource_type in (
        "Patient",
        "Questionnaire",
        "PlanDefinition",
        "CodeSystem",
        "ValueSet",
        "Measure",
        "Medication",
        "Organization",
        "Practitioner",
    ):
        params.add(resource_type, *identifier)
    params.add("Patient", "family", "string", "name.family")
    params.add("Patient", "given", "string", "name.given")
    params.add("Patient", "name", "string", "name")
    params.add("Patient", "birthdate", "date", "birthDate")
    params.add("Patient", "gender", "token", "gender")
    for resource_type in ("Condition", "Observation", "Medication"):
        params.add(resource_type, "code", "token", "code")
    for resource_type in ("MedicationRequest", "MedicationStatement"):
        params.add(resource_type, "code", "token", "medicationCodeableConcept")
        params.add(resource_type, "medication", "reference", "medicationReference")
    params.add("MedicationRequest", "intent", "token", "intent")
    params.add("MedicationRequest", "authoredon", "date", "authoredOn")
    params.add("MedicationStatement", "effective", "date", "effectiveDateTime", "effectivePeriod")
    params.add("Observation", "date", "date", "effectiveDateTime", "effectivePeriod")
    params.add("ServiceRequest", "category", "token", "category")
    params.add("ServiceRequest", "requester", "reference", "requester")
    params.add("ServiceRequest", "authored", "date", "authoredOn")
    params.add("Task", "business-status", "token", "businessStatus")
    params.add("Task", "focus", "reference", "focus")
    params.add("Task", "code", "token", "code")
    params.add("Task", "owner", "reference", "owner")
    params.add("Communication", "based-on", "reference", "basedOn")
    params.add("CarePlan", "category", "token", "category")
    params.add("CarePlan", "intent", "token", "intent")
    params.add("Encounter", "date", "date", "period")
    params.add("Appointment", "date", "date", "start")
    params.add("Appointment", "actor", "reference", "participant.actor")
    params.add("DetectedIssue", "code", "token", "code")
    params.add("AuditEvent", "date", "date", "recorded")
    params.add("AuditEvent", "entity", "reference", "entity.what")
    params.add("AuditEvent", "agent", "reference", "agent.who")
    params.add("AuditEvent", "action", "token", "action")
    params.add("AuditEvent", "outcome", "token", "outcome")
    for resource_type in ("Questionnaire", "PlanDefinition", "CodeSystem", "ValueSet", "Measure"):
        params.add(resource_type, "url", "token", "url")
        params.add(resource_type, "name", "string", "name")
