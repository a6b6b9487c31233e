"""HL7's FHIR R4 JSON Schema (``data/fhir.schema.json.gz``, source and licence in
``data/fhir.schema.SOURCE.md``) compiled by ``jsonschema-rs``: the structural check of every resource
the services accept (``shared.fhir.models.validate_resource``, with the required-bindings table).

One validator for every resource type (``_compiled``), compiled on first use or by ``warm`` and kept.
The schema checks element names (``additionalProperties: false``), JSON types, primitive regexes (id,
date, dateTime, code...), required complex elements and the codes of the bindings it spells as enums
(``Patient.gender``). It does not check FHIRPath invariants (nor did ``fhir.resources``).

Tightened when loaded (``_tighten``) where the generated schema is looser than R4 and the
``fhir.resources`` models it replaced were not: datatypes must be objects, required primitives must be
present, a choice element takes one type, integers are whole 32-bit numbers, dates are days the
calendar has and arrays are never empty (the required primitives and choice groups come from
``data/element-rules.json``, see ``element_rules``). ``tests/unit/kernel/test_jsonschema_r4.py`` pins
what it refuses that the models accepted and checks that nothing the models refuse passes;
``test_validator_differential.py`` does the same over mutations of the corpus.

Three narrow amendments besides (``_amend``). Two because the vendored file is HL7's 4.0.0 build and
this system speaks 4.0.1: ``fhirVersion`` also accepts ``"4.0.1"`` (the version we announce in every
CapabilityStatement), and ``Expression.language`` is the plain ``code`` R4 binds *extensibly* rather
than the generated closed enum (the careplan service publishes a ``text/plain`` Measure expression).
One because the generator forgot them: a ``canonical`` element (``Meta.profile``) has its ``_profile``
sibling for extensions, as every other primitive has (R4 JSON format, "Representation of primitive
data types"; the models accept it).

Nothing the sender wrote is echoed in a message except element and resource type names that are
names (``_named``): the diagnostics go back to the sender and the top-level one into the AuditEvent.
"""

from __future__ import annotations

import gzip
import json
import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from shared.fhir import element_rules

__all__ = ["known_resource_type", "schema_issues", "schema_valid", "warm"]

_PATH = Path(__file__).parent / "data" / "fhir.schema.json.gz"


def raw_definitions() -> dict[str, Any]:
    """HL7's definitions as vendored, not amended (a fresh copy on every call)."""
    with gzip.open(_PATH, "rt", encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    definitions: dict[str, Any] = schema["definitions"]
    return definitions


@cache
def _definitions() -> dict[str, Any]:
    definitions = raw_definitions()
    _amend(definitions)
    _tighten(definitions, element_rules.load())
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
    # The generator gave every primitive element its "_x" sibling except those typed canonical.
    for spec in definitions.values():
        properties = spec.get("properties", {})
        for name, element in list(properties.items()):
            typed = element.get("items", element).get("$ref")
            if typed == "#/definitions/canonical" and f"_{name}" not in properties:
                sibling: dict[str, Any] = {"$ref": "#/definitions/Element"}
                if "items" in element:
                    sibling = {"type": "array", "items": sibling}
                properties[f"_{name}"] = {"description": f"Extensions for {name}"} | sibling


# FHIR's integer is a 32-bit signed integer (R4 datatypes: integer, unsignedInt, positiveInt).
_INT32 = (-2147483648, 2147483647)
_INTEGER_BOUNDS = {"integer": _INT32[0], "unsignedInt": 0, "positiveInt": 1}
# The definitions whose value carries a calendar date: checked by _calendar_date (format CALENDAR).
CALENDAR = "fhir-calendar-date"
_DATED = ("date", "dateTime", "instant")


def _tighten(definitions: dict[str, Any], rules: element_rules.Rules) -> None:
    """Refuse what R4 forbids and the generated schema lets through (each was a reason it could not
    replace ``fhir.resources`` on the hot path; ``tests/unit/kernel/test_jsonschema_r4.py`` pins them):

    - a complex datatype, backbone element or resource must be a JSON object (the generated
      definitions carry no ``"type"``, so a string, an array or ``null`` passed where a ``Reference``
      belongs);
    - a required primitive must be present (``Observation.status``, ``Extension.url``): R4 lets its
      ``_status`` sibling carry extensions, not stand in for it;
    - at most one element of a choice (``valueString`` or ``valueQuantity``), exactly one where the
      choice is required (``MessageHeader.event[x]``);
    - integers are whole numbers within 32 bits (``positiveInt`` from 1, ``unsignedInt`` from 0): the
      schema typed them ``number`` and its pattern only applies to strings;
    - a date, dateTime or instant names a day the calendar has (the pattern allows 2021-02-30);
    - an array is never empty (R4 json.html: an element with no values is left out; ``"name": []`` was
      stored and echoed);
    - no ``modifierExtension`` on the parts of a datatype R4 types as ``Element`` (``Timing.repeat``,
      ``Dosage.doseAndRate``): the generator gave every backbone one; no ``Extension._url`` (the url is
      an XML attribute in R4, so it has no primitive extensions).

    The required primitives and choice groups come from ``data/element-rules.json``
    (``element_rules``)."""
    for spec in definitions.values():
        if "properties" in spec:
            spec.setdefault("type", "object")
        for element in spec.get("properties", {}).values():
            if element.get("type") == "array":
                element["minItems"] = 1  # R4 JSON: an element with no values is left out, never []
    # Extension.url is an attribute in R4's XML, so its JSON has no "_url" (the generator gave it one).
    definitions["Extension"]["properties"].pop("_url", None)
    for name, rule in rules.items():
        spec = definitions[name]
        if rule.get("no_modifier_extension"):
            spec["properties"].pop("modifierExtension", None)
        if rule.get("required"):
            spec["required"] = sorted(set(spec.get("required", ())) | set(rule["required"]))
        for group, members in rule.get("choices", {}).items():
            # Linear in the group's size (Extension.value[x] has 49 types): "no member, or exactly one"
            # (a pairwise "not both" was 49 x 48 subschemas per Extension and 65 MB compiled).
            present = [{"required": [member]} for member in members]
            if group in rule.get("required_choices", ()):
                choice: dict[str, Any] = {"oneOf": present}
            else:
                choice = {"anyOf": [{"not": {"anyOf": present}}, {"oneOf": present}]}
            spec.setdefault("allOf", []).append(choice | {"$comment": f"choice {group}[x]"})
    stricter: dict[str, dict[str, Any]] = {
        name: {"type": "integer", "minimum": minimum, "maximum": _INT32[1]}
        for name, minimum in _INTEGER_BOUNDS.items()
    }
    stricter |= {name: {"format": CALENDAR} for name in _DATED}
    # A choice element's primitive is written inline (valueInteger: the integer's pattern and type), not
    # as a $ref: recognise it by the datatype's pattern.
    by_pattern = {definitions[name]["pattern"]: keywords for name, keywords in stricter.items()}
    for name, keywords in stricter.items():
        definitions[name].update(keywords)
    for spec in definitions.values():
        for element in spec.get("properties", {}).values():
            for inline in (element, element.get("items", {})):
                found = by_pattern.get(inline.get("pattern"))
                if found is not None and "$ref" not in inline:
                    inline.update(found)


def _calendar_date(value: str) -> bool:
    """True unless ``value`` (already matched by the datatype's pattern) names a day the calendar lacks:
    ``YYYY-MM-DD`` at its start, when it has a day. Partial dates (``2021``, ``2021-02``) pass."""
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        return True
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


@cache
def _resource_types() -> frozenset[str]:
    """The schema's resource types: those its ``ResourceList`` names (not every definition with a
    ``resourceType`` element: ``ExampleScenario_Instance`` has one and is not a resource)."""
    listed = _definitions()["ResourceList"]["oneOf"]
    return frozenset(str(ref["$ref"]).rsplit("/", 1)[-1] for ref in listed)


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
    return jsonschema_rs.Draft7Validator(root, formats={CALENDAR: _calendar_date}, validate_formats=True)


def _validator(resource_type: str) -> Any:
    return _compiled() if resource_type in _resource_types() else None


def known_resource_type(value: Any) -> str | None:
    """``value`` when it is an R4 resource type (safe to name in a message), else None."""
    return value if isinstance(value, str) and value in _resource_types() else None


_NAME = re.compile(r"_?[A-Za-z][A-Za-z0-9]{0,63}")


def _named(value: Any) -> str:
    """An element name as sent when it is shaped like one, else a description of it (never the text)."""
    return str(value) if _NAME.fullmatch(str(value)) else "(a name that is not a FHIR element name)"


# jsonschema-rs takes str as UTF-8: a lone surrogate ("\ud800", which Python's json reads) cannot be.
_NOT_UNICODE = "a string in it is not valid Unicode (a lone UTF-16 surrogate)"


def warm() -> None:
    """Load and compile the schema now (at start-up, about 0.1 s) rather than on a first request."""
    _compiled()


def schema_valid(resource: Any) -> bool:
    """True when ``resource`` is a JSON object of a known R4 type that the schema accepts."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return False
    validator = _validator(resource["resourceType"])
    try:
        return validator is not None and bool(validator.is_valid(resource))
    except UnicodeEncodeError:
        return False


def _expression(resource_type: str, path: Any) -> str:
    out = resource_type
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{_named(part)}"
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
                "diagnostics": "resourceType is not an R4 resource type",
                "expression": ["resourceType"],
            }
        ]
    issues = []
    try:
        if validator.is_valid(resource):
            return []
        inner = _nested_issues(resource, resource_type, limit)
        if inner:
            return inner
        for error in validator.iter_errors(resource):
            where = _expression(resource_type, error.instance_path)
            issues.append(
                {
                    "severity": "error",
                    "code": _issue_code(error.kind),
                    "diagnostics": f"{where}: {_reason(error)}"[:500],
                    "expression": [where],
                }
            )
            if len(issues) >= limit:
                break
    except UnicodeEncodeError:
        return [{"severity": "error", "code": "value", "diagnostics": f"{resource_type}: {_NOT_UNICODE}"}]
    return issues


def _nested_issues(resource: dict[str, Any], resource_type: str, limit: int) -> list[dict[str, Any]]:
    """The issues of the first resource inside ``resource`` that is invalid on its own (a contained
    resource, a Bundle entry's, a Parameters part's), each path under the outer resource's. Collecting the
    errors of one invalid resource inside another made the schema try every resource type for it: 1.9 s of
    CPU for one wrongly typed field of a contained Medication in a Bundle (an attacker's review, 2026-12-07;
    ``is_valid`` answers in a millisecond), where alone, by its own type, it is named at once."""
    for path, nested in _nested(resource, resource_type):
        nested_type = known_resource_type(nested.get("resourceType")) if isinstance(nested, dict) else None
        if nested_type is None:
            # no R4 type to check it by: named here at once (left to the whole's errors, every resource type
            # was tried for it, and for each level of such nesting again: 1.7 s for one, minutes for two)
            where = f"{path}.resourceType" if isinstance(nested, dict) else path
            why = "not an R4 resource type" if isinstance(nested, dict) else "not a resource (a JSON object)"
            return [
                {
                    "severity": "error",
                    "code": "structure",
                    "diagnostics": f"{where}: {why}",
                    "expression": [where],
                }
            ]
        if _compiled().is_valid(nested):
            continue
        found = schema_issues(nested, limit)
        for issue in found:
            issue["expression"] = [
                f"{path}{e.removeprefix(nested_type)}" for e in issue.get("expression", ())
            ]
            where = issue["expression"][0] if issue["expression"] else path
            issue["diagnostics"] = f"{where}: {issue['diagnostics'].partition(': ')[2]}"[:500]
        return found
    return []


def _nested(resource: dict[str, Any], resource_type: str) -> list[tuple[str, Any]]:
    """(path, value) of each resource held directly in ``resource``: ``contained``, a Bundle's
    ``entry.resource`` and ``entry.response.outcome``, a Parameters' ``parameter.resource`` (and parts);
    a value there that is no object is listed too, to be named."""
    found: list[tuple[str, Any]] = []

    def add(path: str, value: Any) -> None:
        if value is not None:
            found.append((path, value))

    for i, item in enumerate(_list(resource.get("contained"))):
        add(f"{resource_type}.contained[{i}]", item)
    if resource_type == "Bundle":
        for i, entry in enumerate(_list(resource.get("entry"))):
            if isinstance(entry, dict):
                add(f"Bundle.entry[{i}].resource", entry.get("resource"))
                response = entry.get("response")
                if isinstance(response, dict):
                    add(f"Bundle.entry[{i}].response.outcome", response.get("outcome"))
    if resource_type == "Parameters":
        stack = [(f"Parameters.parameter[{i}]", p) for i, p in enumerate(_list(resource.get("parameter")))]
        while stack:
            path, parameter = stack.pop(0)
            if not isinstance(parameter, dict):
                continue
            add(f"{path}.resource", parameter.get("resource"))
            stack += [(f"{path}.part[{i}]", p) for i, p in enumerate(_list(parameter.get("part")))]
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


_Kind = jsonschema_rs.ValidationErrorKind


def _issue_code(kind: Any) -> str:
    """The OperationOutcome issue type: an unknown element is ``structure``, a code outside the codes
    the schema lists ``code-invalid`` (as the bindings table says it), a missing element ``required``,
    anything else ``value``."""
    if isinstance(kind, _Kind.AdditionalProperties):
        return "structure"
    if isinstance(kind, _Kind.Enum):
        return "code-invalid"
    if isinstance(kind, _Kind.Required):
        return "required"
    return "value"


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
        names = ", ".join(_named(name) for name in kind.unexpected[:5])
        return f"unknown element(s) {names}"
    if isinstance(kind, _Kind.Required):
        return str(error.message)  # "'x' is a required property": the schema's element name
    path = [str(part) for part in error.schema_path]
    if "allOf" in path and path[0] == "definitions":  # _tighten's choice rules
        comment = _definitions()[path[1]]["allOf"][int(path[3])].get("$comment", "")
        if comment.startswith("choice "):
            group = comment.removeprefix("choice ")
            if isinstance(kind, _Kind.OneOfNotValid):
                return f"{group} is required: one of its types must be given"
            return f"{group} has more than one type given: at most one is allowed"
    if isinstance(kind, _Kind.Format) and kind.format == CALENDAR:
        return "not a date the calendar has"
    if isinstance(kind, _Kind.MinItems):
        return "an array must not be empty: leave the element out instead (R4 JSON)"
    if isinstance(kind, (_Kind.Minimum, _Kind.Maximum)):
        return f"outside the range of its FHIR integer type ({kind.limit})"
    return f"refused by the R4 JSON schema ({kind.name})"
