"""HL7's FHIR R4 JSON Schema (``data/fhir.schema.json.gz``, source and licence in
``data/fhir.schema.SOURCE.md``) compiled by ``jsonschema-rs``: a fast structural check of a resource.

One validator for every resource type (``_compiled``), compiled on first use or by ``warm`` and kept.
The schema checks element names (``additionalProperties: false``),
JSON types, primitive regexes (id, date, dateTime, code...), required elements and the codes of required
bindings (``Patient.gender`` is an ``enum``). It does not check FHIRPath invariants, and an integer is
only ``"type": "number"`` there, so 1.5 passes it: see ``bench/validation.py`` for what it accepts that
``fhir.resources`` refuses, and the reverse.

On the hot path as a second gate: ``validate_resource`` runs it after ``fhir.resources``, whose pydantic
models let through what FHIR JSON forbids (``"active": "yes"``, ``"id": null``, a 65-character id, a blank
``system``, an empty ``Annotation.text``, numbers sent as strings). Alone it is not as strict (README,
"R4 validation"), so it does not replace ``fhir.resources``.

Two narrow amendments, made when the definitions are loaded (``_amend``), because the vendored file is
HL7's 4.0.0 build and this system speaks 4.0.1: ``fhirVersion`` also accepts ``"4.0.1"`` (the version we
announce in every CapabilityStatement), and ``Expression.language`` is the plain ``code`` R4 binds
*extensibly* rather than the generated closed enum (the careplan service publishes a ``text/plain``
Measure expression).
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

__all__ = ["schema_issues", "schema_valid", "warm"]

_PATH = Path(__file__).parent / "data" / "fhir.schema.json.gz"


@cache
def _definitions() -> dict[str, Any]:
    with gzip.open(_PATH, "rt", encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    definitions: dict[str, Any] = schema["definitions"]
    _amend(definitions)
    return definitions


# The elements whose generated enum lists FHIR versions up to the build's own, "4.0.0".
_FHIR_VERSION_ELEMENTS = (
    ("CapabilityStatement", "fhirVersion"),
    ("StructureDefinition", "fhirVersion"),
    ("ImplementationGuide", "fhirVersion"),
    ("ImplementationGuide_Resource", "fhirVersion"),
)


def _amend(definitions: dict[str, Any]) -> None:
    """Make HL7's 4.0.0 build accept the 4.0.1 content this system legitimately sends (module docstring)."""
    for type_name, element in _FHIR_VERSION_ELEMENTS:
        spec = definitions[type_name]["properties"][element]
        codes = spec["items"]["enum"] if "items" in spec else spec["enum"]
        if "4.0.1" not in codes:
            codes.append("4.0.1")  # R4's technical correction: what FHIR_VERSION announces
    # R4 binds Expression.language to its value set *extensibly*: any media type is a valid code.
    language = definitions["Expression"]["properties"]["language"]
    language.pop("enum", None)
    language["$ref"] = "#/definitions/code"


@cache
def _resource_types() -> frozenset[str]:
    definitions = _definitions()
    return frozenset(t for t, spec in definitions.items() if "resourceType" in spec.get("properties", {}))


@cache
def _compiled() -> Any:
    """One validator for every resource type, dispatching on ``resourceType`` (draft-07 ``if``/``then``
    over the schema's draft-06 definitions). Not one per type: each of those compiled every definition
    again, about 16 MB and 55 ms apiece (657 MB for 40 types); this one is about 30 MB and 90 ms, and
    checks a 19-resource BaRS message in about 0.3 ms."""
    root = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": _definitions(),
        "allOf": [
            {"if": {"properties": {"resourceType": {"const": t}}}, "then": {"$ref": f"#/definitions/{t}"}}
            for t in sorted(_resource_types())
        ],
    }
    return jsonschema_rs.Draft7Validator(root)


def _validator(resource_type: str) -> Any:
    return _compiled() if resource_type in _resource_types() else None


def warm() -> None:
    """Load and compile the schema now (at start-up, about 0.1 s) rather than on a first request."""
    _compiled()


def schema_valid(resource: Any) -> bool:
    """True when ``resource`` is a JSON object of a known R4 type that the schema accepts."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return False
    validator = _validator(resource["resourceType"])
    return validator is not None and bool(validator.is_valid(resource))


def _expression(resource_type: str, path: Any) -> str:
    out = resource_type
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def schema_issues(resource: Any, limit: int = 20) -> list[dict[str, Any]]:
    """OperationOutcome issues for what the schema refuses in ``resource`` (empty when it is valid),
    each naming the element's path as a FHIRPath-like ``expression``."""
    if not isinstance(resource, dict):
        return [{"severity": "error", "code": "structure", "diagnostics": "not a JSON object"}]
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return [
            {
                "severity": "error",
                "code": "required",
                "diagnostics": "no resourceType",
                "expression": ["resourceType"],
            }
        ]
    validator = _validator(resource_type)
    if validator is None:
        return [
            {
                "severity": "error",
                "code": "not-supported",
                "diagnostics": f"Unknown resourceType '{resource_type[:64]}'",
                "expression": ["resourceType"],
            }
        ]
    issues = []
    for error in validator.iter_errors(resource):
        where = _expression(resource_type, error.instance_path)
        issues.append(
            {
                "severity": "error",
                "code": "structure" if isinstance(error.kind, _Kind.AdditionalProperties) else "value",
                "diagnostics": f"{where}: {_reason(error)}"[:500],
                "expression": [where],
            }
        )
        if len(issues) >= limit:
            break
    return issues


_Kind = jsonschema_rs.ValidationErrorKind


def _reason(error: Any) -> str:
    """What is wrong, in the schema's words and never the value sent (it may be patient data)."""
    kind = error.kind
    if isinstance(kind, _Kind.Type):
        return f"must be a JSON {' or '.join(str(t) for t in kind.types)}"
    if isinstance(kind, _Kind.Enum):
        return f"not one of the codes {', '.join(map(str, kind.options))[:300]}"
    if isinstance(kind, _Kind.Pattern):
        path = list(error.schema_path)
        datatype = path[1] if len(path) > 2 and path[0] == "definitions" else "value"
        return f"not a valid FHIR {datatype} (pattern {kind.pattern})"
    if isinstance(kind, _Kind.AdditionalProperties):
        names = ", ".join(str(name)[:64] for name in kind.unexpected[:5])
        return f"unknown element(s) {names}"
    if isinstance(kind, _Kind.Required):
        return str(error.message)  # "'x' is a required property": the schema's element name
    return f"refused by the R4 JSON schema ({kind.name})"
