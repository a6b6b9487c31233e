"""The one module that picks the FHIR release: R4 on the wire, validated against HL7's R4 JSON Schema.

``validate_resource`` (every resource the services accept) is the schema, tightened, and the required
bindings; the ``fhir.resources`` R4B models (``validate_model``) were that check until 2026-12-06 and
stay for comparison and where a parsed model serves. ``fhir.resources``' default package is R5, which
silently drops R4 medication fields; R4B keeps them. GP Connect still speaks STU3, so its models are
picked here too. Nothing else in the code base imports ``fhir.resources`` (``element_rules`` reads the
R4B models' metadata when the rules file is regenerated).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class as _r4b_class
from fhir.resources.STU3 import get_fhir_model_class as _stu3_class
from pydantic import ValidationError

from shared.core.errors import InvalidResource
from shared.fhir.bindings import binding_issues
from shared.fhir.jsonschema_r4 import known_resource_type, schema_issues

FHIR_VERSION = "4.0.1"
"""What we announce: R4. R4B's models validate R4 resources of the kinds this service uses."""

__all__ = [
    "FHIR_VERSION",
    "is_resource_type",
    "model_class",
    "stu3_model_class",
    "validate_model",
    "validate_resource",
    "validate_stu3_resource",
]


@cache
def is_resource_type(name: str) -> bool:
    """True when ``name`` is a FHIR resource type (not a datatype)."""
    if not name or not name[0].isupper():
        return False
    try:
        klass = _r4b_class(name)
    except (ValueError, KeyError):
        return False
    fields = getattr(klass, "model_fields", {})
    return "resource_type" in fields or ("id" in fields and "meta" in fields)


def model_class(resource_type: str) -> type[Any]:
    try:
        return _r4b_class(resource_type)
    except (ValueError, KeyError) as exc:
        raise InvalidResource("resourceType is not an R4 resource type", expression=["resourceType"]) from exc


def stu3_model_class(resource_type: str) -> type[Any]:
    try:
        return _stu3_class(resource_type)
    except (ValueError, KeyError) as exc:
        why = "resourceType is not an STU3 resource type"
        raise InvalidResource(why, expression=["resourceType"]) from exc


def _mismatch(expected: str, sent: str) -> InvalidResource:
    """The body is not the type the interaction takes; named only when it is a resource type (a message
    never echoes what the sender wrote: the top-level one is kept in the AuditEvent)."""
    named = known_resource_type(sent)
    what = f"a {named}" if named else "not an R4 resource type"
    return InvalidResource(f"Expected a {expected} but the body is {what}", expression=["resourceType"])


def _issues(exc: ValidationError, prefix: str) -> list[dict[str, Any]]:
    issues = []
    for error in exc.errors()[:20]:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
        issues.append(
            {
                "severity": "error",
                "code": "structure" if error.get("type") == "extra_forbidden" else "value",
                "diagnostics": f"{location or prefix}: {error.get('msg', 'invalid')}"[:500],
                "expression": [f"{prefix}.{location}" if location else prefix],
            }
        )
    return issues


def _validate(klass: type[Any], resource: Any, expected: str | None, release: str) -> Any:
    if not isinstance(resource, dict):
        raise InvalidResource("A FHIR resource must be a JSON object")
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise InvalidResource("The resource has no resourceType", expression=["resourceType"])
    if expected is not None and resource_type != expected:
        raise _mismatch(expected, resource_type)
    try:
        return klass.model_validate(resource)
    except ValidationError as exc:
        issues = _issues(exc, resource_type)
        raise InvalidResource(
            f"The {resource_type} is not a valid FHIR {release} resource", issues=issues
        ) from exc
    except (ValueError, TypeError) as exc:  # fhir_core raises these for some malformed primitives
        raise InvalidResource(f"The {resource_type} is not a valid FHIR {release} resource") from exc


def validate_resource(resource: Any, expected_type: str | None = None) -> None:
    """Validate a JSON object as an R4 resource; raise ``InvalidResource`` with one issue per error.

    HL7's R4 JSON Schema (``jsonschema_r4``, tightened where the generated schema is looser than R4:
    datatypes are objects, required primitives, one element per choice, 32-bit integers, calendar
    dates) and the required-bindings table (``bindings``). That is at least as strict as the
    ``fhir.resources`` R4B models it replaced here on 2026-12-06 (``validate_model``), which
    ``tests/unit/kernel/test_validator_differential.py`` checks on the corpus and its mutations, and it
    refuses what those models coerce (``"active": "yes"``, ``"valueInteger": "5"``: the kernel stores
    the JSON as sent) at about a tenth of their cost.
    """
    if isinstance(resource, dict) and expected_type is not None:
        sent = resource.get("resourceType")
        if isinstance(sent, str) and sent != expected_type:
            raise _mismatch(expected_type, sent)
    if issues := schema_issues(resource):
        name = known_resource_type(resource.get("resourceType") if isinstance(resource, dict) else None)
        raise InvalidResource(f"The {name or 'resource'} is not valid FHIR R4 JSON", issues=issues[:20])
    if issues := binding_issues(resource):
        raise InvalidResource(
            f"The {resource['resourceType']} has codes outside their value sets", issues=issues[:20]
        )


def validate_model(resource: Any, expected_type: str | None = None) -> Any:
    """The ``fhir.resources`` R4B model and the required-bindings table: what ``validate_resource`` ran
    until 2026-12-06 (with the schema after it). Kept to measure and compare the validators
    (``bench/validation.py``, the differential test) and where a parsed model serves; returns it."""
    if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
        klass = model_class(resource["resourceType"])
    else:
        klass = object
    model = _validate(klass, resource, expected_type, "R4")
    if issues := binding_issues(resource):
        raise InvalidResource(
            f"The {resource['resourceType']} has codes outside their value sets", issues=issues[:20]
        )
    return model


def validate_stu3_resource(resource: Any, expected_type: str | None = None) -> Any:
    """Validate a JSON object as an STU3 resource (GP Connect)."""
    if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
        klass = stu3_model_class(resource["resourceType"])
    else:
        klass = object
    return _validate(klass, resource, expected_type, "STU3")
