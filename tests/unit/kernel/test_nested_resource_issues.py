"""A resource held in another (contained, a Bundle entry's, a Parameters part's) is checked alone, by its own
type, when the whole is invalid: its issues name its path under the outer resource. Collecting the errors of
the whole made the schema try every resource type for the nested one (1.9 s of CPU for one wrongly typed
field of a contained Medication in a Bundle: an attacker's review, 2026-12-07; measured in the closing note,
never in a timed test)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.core.errors import InvalidResource
from shared.fhir import validate_resource

MEDICATION = {"resourceType": "Medication", "id": "med", "code": {"text": "Morphine"}, "status": 5}
REQUEST = {
    "resourceType": "MedicationRequest",
    "id": "m1",
    "status": "active",
    "intent": "order",
    "subject": {"reference": "Patient/p1"},
    "medicationReference": {"reference": "#med"},
    "contained": [MEDICATION],
}


def _bundle(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": "urn:x", "resource": resource}],
    }


@pytest.mark.parametrize(
    ("resource", "kind", "path"),
    [
        (REQUEST, "MedicationRequest", "MedicationRequest.contained[0].status"),
        (_bundle(REQUEST), "Bundle", "Bundle.entry[0].resource.contained[0].status"),
        (
            {"resourceType": "Parameters", "parameter": [{"name": "bundle", "resource": _bundle(REQUEST)}]},
            "Parameters",
            "Parameters.parameter[0].resource.entry[0].resource.contained[0].status",
        ),
        (
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "x", "part": [{"name": "y", "resource": MEDICATION}]}],
            },
            "Parameters",
            "Parameters.parameter[0].part[0].resource.status",
        ),
    ],
)
def test_an_invalid_nested_resource_is_named_by_its_path_under_the_outer_one(
    resource: dict[str, Any], kind: str, path: str
) -> None:
    with pytest.raises(InvalidResource) as raised:
        validate_resource(resource, kind)
    [issue] = raised.value.extra_issues
    assert issue["expression"] == [path]
    assert issue["diagnostics"] == f"{path}: must be a JSON string"


def test_an_outer_resource_invalid_beside_valid_nested_ones_names_its_own_element() -> None:
    bundle = {**_bundle({**REQUEST, "contained": [{**MEDICATION, "status": "active"}]}), "type": 5}
    with pytest.raises(InvalidResource) as raised:
        validate_resource(bundle, "Bundle")
    assert raised.value.extra_issues[0]["expression"] == ["Bundle.type"]


def test_a_valid_bundle_with_nested_resources_is_valid() -> None:
    validate_resource(_bundle({**REQUEST, "contained": [{**MEDICATION, "status": "active"}]}), "Bundle")


def _unknown(depth: int) -> dict[str, Any]:
    found: dict[str, Any] = {"resourceType": "X", "id": "a"}
    for _ in range(depth):
        found = {"resourceType": "X", "id": "a", "contained": [found]}
    return found


@pytest.mark.parametrize("depth", [0, 2])
def test_a_nested_resource_of_no_r4_type_is_named_at_once(depth: int) -> None:
    """An attacker's follow-up (2026-12-07): a contained resource of no R4 type was left to the whole's
    errors, which tried every resource type for it, and again for each level nested inside it (1.7 s of CPU
    for one level; two levels, a 311-byte body, held the embedded system's event loop for minutes)."""
    patient = {"resourceType": "Patient", "id": "p", "contained": [_unknown(depth)]}
    with pytest.raises(InvalidResource) as raised:
        validate_resource(patient, "Patient")
    [issue] = raised.value.extra_issues
    assert issue["expression"] == ["Patient.contained[0].resourceType"]


def test_a_bundle_entry_that_is_no_object_is_named() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": "text"}]}
    with pytest.raises(InvalidResource) as raised:
        validate_resource(bundle, "Bundle")
    assert raised.value.extra_issues[0]["expression"] == ["Bundle.entry[0].resource"]
