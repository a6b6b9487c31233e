"""HL7's FHIR R4 JSON Schema (``data/fhir.schema.json.gz``, source and licence in
``data/fhir.schema.SOURCE.md``) compiled by ``jsonschema-rs``: a fast structural check of a resource.

One validator per resource type, compiled on first use (``{"$ref": "#/definitions/<Type>"}`` over the
schema's definitions) and kept. The schema checks element names (``additionalProperties: false``),
JSON types, primitive regexes (id, date, dateTime, code...), required elements and the codes of required
bindings (``Patient.gender`` is an ``enum``). It does not check FHIRPath invariants, and an integer is
only ``"type": "number"`` there, so 1.5 passes it: see ``bench/validation.py`` for what it accepts that
``fhir.resources`` refuses, and the reverse.

Not on the hot path (``validate_resource`` is): alone it is not as strict, before ``fhir.resources`` it
adds its cost to every valid resource, and the vendored 4.0.0 build refuses ``fhirVersion: "4.0.1"`` and
an extensible ``Expression.language`` (README, "R4 validation"). It serves the benchmark and the tests
that hold the required-bindings table to the schema's codes.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

__all__ = ["schema_issues", "schema_valid"]

_PATH = Path(__file__).parent / "data" / "fhir.schema.json.gz"


@cache
def _definitions() -> dict[str, Any]:
    with gzip.open(_PATH, "rt", encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    definitions: dict[str, Any] = schema["definitions"]
    return definitions


@cache
def _validator(resource_type: str) -> Any:
    definitions = _definitions()
    if resource_type not in definitions or "resourceType" not in definitions[resource_type].get(
        "properties", {}
    ):
        return None
    root = {
        "$schema": "http://json-schema.org/draft-06/schema#",
        "$ref": f"#/definitions/{resource_type}",
        "definitions": definitions,
    }
    return jsonschema_rs.Draft6Validator(root)


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
                "code": "structure" if "additional" in error.message.lower() else "value",
                "diagnostics": f"{where}: {error.message}"[:500],
                "expression": [where],
            }
        )
        if len(issues) >= limit:
            break
    return issues
