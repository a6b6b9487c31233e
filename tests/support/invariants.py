"""FHIR R4 invariants our validator (fhir.resources) does not check, as pure functions over JSON.

fhir.resources checks structure and cardinality, not the FHIRPath constraints of the specification. The
ones here are those an integration partner's validator (the HL7 validator, an NHS England profile) would
reject us for:

* ``cpl-3`` on ``CarePlan.activity``: "Provide a reference or detail, not both"
  (``detail.empty() or reference.empty()``, https://hl7.org/fhir/R4/careplan.html#invs).

Every CarePlan anywhere in a resource is checked: the resource itself, a Bundle's entries, ``contained``
resources, Parameters parts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["assert_invariants", "careplans_in", "cpl3_violations", "invariant_violations"]


def careplans_in(node: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every CarePlan in ``node`` (any depth), with a path to it for messages."""
    if isinstance(node, Mapping):
        if node.get("resourceType") == "CarePlan":
            yield path or "CarePlan", node
        for key, value in node.items():
            yield from careplans_in(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from careplans_in(value, f"{path}[{index}]")


def cpl3_violations(resource: Mapping[str, Any]) -> list[str]:
    """Where a CarePlan activity in ``resource`` gives both ``reference`` and ``detail`` (cpl-3)."""
    found = []
    for path, careplan in careplans_in(resource):
        for index, activity in enumerate(careplan.get("activity") or []):
            if isinstance(activity, Mapping) and activity.get("reference") and activity.get("detail"):
                found.append(
                    f"cpl-3: {path} (CarePlan/{careplan.get('id', '?')}) activity[{index}] has both "
                    "reference and detail"
                )
    return found


def invariant_violations(resource: Mapping[str, Any]) -> list[str]:
    """Every broken invariant of this module in ``resource``."""
    return cpl3_violations(resource)


def assert_invariants(resource: Mapping[str, Any]) -> None:
    """Fail with every broken invariant listed."""
    broken = invariant_violations(resource)
    assert not broken, "\n".join(broken)
