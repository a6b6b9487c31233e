"""Required bindings: the coded elements whose value must come from one FHIR value set (``status``,
``intent``, ``gender``...). ``fhir.resources`` checks that a ``code`` is a code, not that it is one of
the value set's, so ``Patient.gender: "bogus"`` would pass it, and HL7's R4 JSON Schema types some such
elements as a plain ``code`` (``ServiceRequest.status``); this refuses them. The table is data
(``data/required-bindings.json``, with its source), read once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["REQUIRED_BINDINGS", "binding_issues"]

_DATA = json.loads((Path(__file__).parent / "data" / "required-bindings.json").read_text(encoding="utf-8"))

REQUIRED_BINDINGS: dict[str, tuple[str, frozenset[str]]] = {
    element: (name, frozenset(_DATA["valueSets"][name]["codes"]))
    for element, name in _DATA["elements"].items()
}
"""``"Type.element"`` -> (value set name, its codes)."""

_BY_TYPE: dict[str, list[tuple[str, str, frozenset[str]]]] = {}
for _element, (_name, _codes) in REQUIRED_BINDINGS.items():
    _type, _field = _element.split(".", 1)
    _BY_TYPE.setdefault(_type, []).append((_field, _name, _codes))


def binding_issues(resource: dict[str, Any], where: str = "") -> list[dict[str, Any]]:
    """One OperationOutcome issue per required-bound element of ``resource`` (and of the resources a
    Bundle's entries or ``contained`` hold) whose code is not in its value set."""
    issues: list[dict[str, Any]] = []
    resource_type = resource.get("resourceType")
    prefix = where or str(resource_type)
    for field, name, codes in _BY_TYPE.get(str(resource_type), ()):
        value = resource.get(field)
        if value is not None and value not in codes:
            issues.append(
                {
                    "severity": "error",
                    "code": "code-invalid",
                    "diagnostics": f"{prefix}.{field}: the code sent is not in the value set {name}",
                    "expression": [f"{prefix}.{field}"],
                }
            )
    children: list[tuple[str, Any]] = [
        (f"{prefix}.contained[{i}]", r) for i, r in enumerate(resource.get("contained") or ())
    ]
    if resource_type == "Bundle":
        children += [
            (f"Bundle.entry[{i}].resource", e.get("resource"))
            for i, e in enumerate(resource.get("entry") or ())
            if isinstance(e, dict)
        ]
    for path, child in children:
        if isinstance(child, dict):
            issues += binding_issues(child, path)
    return issues
