"""Differential fuzzing of the two R4 validators: whatever ``fhir.resources`` refuses (``validate_model``:
the R4B model and the required-bindings table), ``validate_resource`` (HL7's R4 JSON Schema as
``jsonschema_r4._tighten`` tightens it, then the bindings table: the hot path since 2026-12-06) must
refuse too, with a 400 OperationOutcome (``FhirError``), never a crash. That is the condition on which
``fhir.resources`` left the hot path; both tests failed before the schema was tightened (1,981 of the
10,385 single mutations accepted).

Seeds: every resource of ``bench.validation.valid_corpus()`` and three hand-made ones (all valid to both,
checked here). Each case
is a seed with one to three mutations at random paths (Hypothesis), or with exactly one mutation from a
fixed list at every path (the exhaustive variant, deterministic). The mutations are what a sender gets
wrong in FHIR JSON: a missing element, a null, a wrong JSON type, a list for an object and the reverse, an
unknown element, two members of one choice group, a primitive's ``_x`` without ``x``, an impossible
calendar date, a fraction or a negative number where an integer is expected, an extension without url,
padded or blank strings, long ids, empty arrays and objects, nulls inside arrays, contained resources.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.validation import valid_corpus
from shared.core.errors import FhirError
from shared.fhir.models import validate_model, validate_resource

Path = tuple[str | int, ...]
Resource = dict[str, Any]

# Three hand-made seeds besides the bench corpus, for datatypes it lacks: Dosage and Timing (medreview's
# MedicationRequest), unsignedInt, integer, a transaction Bundle's entries and requests, Parameters.
EXTRA_SEEDS: list[tuple[str, Resource]] = [
    (
        "MedicationRequest with a dosage",
        {
            "resourceType": "MedicationRequest",
            "id": "mr1",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [{"system": "http://snomed.info/sct", "code": "322236009"}]
            },
            "subject": {"reference": "Patient/p1"},
            "authoredOn": "2026-03-04T09:00:00Z",
            "dosageInstruction": [
                {
                    "sequence": 1,
                    "text": "1 tablet 4 times a day",
                    "timing": {
                        "repeat": {
                            "frequency": 4,
                            "period": 1,
                            "periodUnit": "d",
                            "boundsDuration": {"value": 7},
                        }
                    },
                    "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
                    "maxDosePerPeriod": {"numerator": {"value": 8}, "denominator": {"value": 1}},
                }
            ],
            "dispenseRequest": {"numberOfRepeatsAllowed": 0, "quantity": {"value": 28}},
        },
    ),
    (
        "transaction Bundle",
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": "urn:uuid:6b0f1d2e-8c4a-4f7e-9a51-0c2d3e4f5a6b",
                    "resource": {"resourceType": "Patient", "gender": "female", "birthDate": "1970-01-01"},
                    "request": {"method": "POST", "url": "Patient"},
                }
            ],
        },
    ),
    (
        "Parameters",
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "count", "valueInteger": 3},
                {"name": "patient", "resource": {"resourceType": "Patient", "active": True}},
                {"name": "part", "part": [{"name": "code", "valueCode": "x"}]},
            ],
        },
    ),
]

SEEDS: list[tuple[str, Resource]] = valid_corpus() + EXTRA_SEEDS

# FHIR datatype names as they end a choice element (valueQuantity, effectiveDateTime, deceasedBoolean...),
# with a valid value of each: the second member of a choice group must itself be valid, so that the only
# fault is that there are two.
CHOICE_VALUES: dict[str, Any] = {
    "String": "x",
    "Boolean": True,
    "Integer": 1,
    "Decimal": 1.5,
    "DateTime": "2020-01-01",
    "Date": "2020-01-01",
    "Instant": "2020-01-01T00:00:00Z",
    "Time": "10:00:00",
    "Code": "x",
    "Uri": "http://example.org",
    "Url": "http://example.org",
    "Canonical": "http://example.org",
    "Quantity": {"value": 1},
    "CodeableConcept": {"text": "x"},
    "Coding": {"code": "x"},
    "Reference": {"reference": "Patient/1"},
    "Period": {"start": "2020-01-01"},
    "Range": {"low": {"value": 1}},
    "Ratio": {"numerator": {"value": 1}},
    "Identifier": {"value": "x"},
    "Attachment": {"title": "x"},
    "Age": {"value": 1},
    "Duration": {"value": 1},
    "Markdown": "x",
    "Id": "x",
    "PositiveInt": 1,
    "UnsignedInt": 1,
}
_CHOICE = re.compile(r"^([a-z][A-Za-z]*?)(" + "|".join(sorted(CHOICE_VALUES, key=len, reverse=True)) + r")$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_EXTENSION = {"url": "http://example.org/x", "valueString": "y"}


def _paths(node: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path inside ``node``, the root ``()`` included."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _get(node: Any, path: Path) -> Any:
    for part in path:
        node = node[part]
    return node


def _value_mutations(value: Any) -> list[tuple[str, Any]]:
    """(name, new value) for a value at a non-root path."""
    out: list[tuple[str, Any]] = [
        ("null", None),
        ("empty string", ""),
        ("a string", "x"),
        ("an integer", 7),
        ("a decimal", 1.5),
        ("true", True),
        ("empty array", []),
        ("empty object", {}),
        ("an array of it", [value]),
        ("an object", {"text": "x"}),
    ]
    if isinstance(value, list) and len(value) == 1:
        out.append(("its one item", value[0]))
    if isinstance(value, list):
        out.append(("null appended to the array", [*value, None]))
        out.append(("{} appended to the array", [*value, {}]))
    if isinstance(value, str):
        out += [
            ("leading space", " " + value),
            ("trailing space", value + " "),
            ("blank", "   "),
            ("65 characters", "a" * 65),
            ("'bogus'", "bogus"),
            ("a control character", value + "\u0001"),
            ("a number as a string", "5"),
        ]
        if _DATE.match(value):
            tail = value[10:]
            out += [
                ("2021-02-30", "2021-02-30" + tail),
                ("2021-04-31", "2021-04-31" + tail),
                ("2023-02-29", "2023-02-29" + tail),
                ("year only", "2021"),
                ("year and month", "2021-02"),
                ("date only", value[:10]),
                ("date and time, no zone", value[:10] + "T10:00:00"),
                ("date and time to the minute", value[:10] + "T10:00Z"),
                ("hour 24", value[:10] + "T24:00:00Z"),
                ("leap second", value[:10] + "T23:59:60Z"),
                ("zone +15:00", value[:10] + "T10:00:00+15:00"),
            ]
    if isinstance(value, int) and not isinstance(value, bool):
        out += [("a fraction", value + 0.5), ("-1", -1), ("0", 0), ("2**31", 2**31)]
    return out


Change = Callable[[dict[str, Any]], None]


def _is_extension(path: Path) -> bool:
    return len(path) >= 2 and path[-2] in ("extension", "modifierExtension") and isinstance(path[-1], int)


def _object_mutations(node: dict[str, Any], path: Path) -> list[tuple[str, Change]]:
    """(name, in-place change) for an object at ``path`` (the resource itself included)."""
    out: list[tuple[str, Change]] = [
        ("an unknown element", lambda n: n.__setitem__("bogusElement", "x")),
    ]
    for key, value in node.items():
        match = _CHOICE.match(key)
        if match:
            prefix, kind = match.groups()
            for other in ("String", "Boolean", "Quantity", "CodeableConcept"):
                if other != kind and prefix + other not in node:
                    second = prefix + other
                    out.append(
                        (
                            f"a second choice ({key} and {second})",
                            lambda n, k=second, v=CHOICE_VALUES[other]: n.__setitem__(k, copy.deepcopy(v)),
                        )
                    )
        if isinstance(value, (str, int, float, bool)) and key != "resourceType":

            def orphan(n: dict[str, Any], k: str = key) -> None:
                del n[k]
                n["_" + k] = {"extension": [dict(_EXTENSION)]}

            # Not for an extension's own value: ``_valueCode`` in an Extension is valid FHIR JSON that
            # fhir.resources' R4B Extension model refuses (it has no ``_value[x]``); not a gap to close.
            if not (_is_extension(path) and key.startswith("value")):
                out.append((f"_x without x ({key})", orphan))
            out.append((f"_x not an object ({key})", lambda n, k=key: n.__setitem__("_" + k, "x")))
    if "url" in node and _is_extension(path):
        out.append(("extension without url", lambda n: n.pop("url")))
    if "extension" not in node:
        out.append(("an extension without url", lambda n: n.__setitem__("extension", [{"valueString": "x"}])))
        out.append(
            ("an extension with no value", lambda n: n.__setitem__("extension", [{"url": "http://x"}]))
        )
    if "modifierExtension" not in node:
        out.append(("a modifierExtension", lambda n: n.__setitem__("modifierExtension", [dict(_EXTENSION)])))
    if not path:
        out += [
            (
                "a contained Observation without status",
                lambda n: n.__setitem__("contained", [_OBS_NO_STATUS]),
            ),
            ("a contained resource without id", lambda n: n.__setitem__("contained", [_BASIC])),
            ("a contained non-resource", lambda n: n.__setitem__("contained", [{"text": "x"}])),
            ("empty meta", lambda n: n.__setitem__("meta", {})),
            ("an empty div", lambda n: n.__setitem__("text", {"status": "generated", "div": ""})),
            ("a div not xhtml", lambda n: n.__setitem__("text", {"status": "generated", "div": "plain"})),
        ]
    return out


_OBS_NO_STATUS = {"resourceType": "Observation", "id": "o1", "code": {"text": "x"}}
_BASIC = {"resourceType": "Basic", "code": {"text": "x"}}


def _deleted(resource: Resource, path: Path) -> Resource:
    out = copy.deepcopy(resource)
    del _get(out, path[:-1])[path[-1]]
    return out


def _replaced(resource: Resource, path: Path, value: Any) -> Resource:
    out = copy.deepcopy(resource)
    _get(out, path[:-1])[path[-1]] = copy.deepcopy(value)
    return out


def _changed(resource: Resource, path: Path, change: Change) -> Resource:
    out = copy.deepcopy(resource)
    change(_get(out, path))
    return out


def mutations_at(resource: Resource, path: Path) -> list[tuple[str, Callable[[], Resource]]]:
    """The single mutations of ``resource`` at ``path``: (name, a function making the mutated copy)."""
    node = _get(resource, path)
    out: list[tuple[str, Callable[[], Resource]]] = []
    if path:
        if path != ("resourceType",):
            out.append(("deleted", lambda: _deleted(resource, path)))
        out += [
            (name, lambda v=value: _replaced(resource, path, v)) for name, value in _value_mutations(node)
        ]
    if isinstance(node, dict):
        out += [
            (name, lambda c=change: _changed(resource, path, c))
            for name, change in _object_mutations(node, path)
        ]
    return out


def mutations(resource: Resource) -> Iterator[tuple[Path, str, Resource]]:
    """Every single mutation of ``resource``, at every path: (path, mutation name, mutated copy)."""
    for path in _paths(resource):
        for name, make in mutations_at(resource, path):
            yield path, name, make()


def model_refuses(resource: Any) -> bool:
    """``validate_model`` refuses it. fhir.resources also *crashes* on some input (AttributeError for a
    number where a url is expected, ``{"source": {"endpoint": 5}}``; KeyError for an unknown type in
    ``contained`` or a Bundle entry): that escapes ``validate_resource`` as a 500 today, and counts here
    as a refusal, which the schema side must match."""
    try:
        validate_model(resource)
    except (FhirError, AttributeError, KeyError):
        return True
    return False


def schema_side_refuses(resource: Any) -> bool:
    """``validate_resource`` refuses it as invalid input; any other exception fails the test."""
    try:
        validate_resource(resource)
    except FhirError:
        return True
    return False


def describe(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


# --- the seeds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "seed"), SEEDS, ids=[n for n, _ in SEEDS])
def test_every_seed_is_valid_to_both(name: str, seed: Resource) -> None:
    assert not model_refuses(seed), name
    assert not schema_side_refuses(seed), name


def test_the_mutations_are_what_they_say() -> None:
    """The engine, on a resource small enough to check by hand."""
    observation = {"resourceType": "Observation", "status": "final", "valueInteger": 2}
    got: dict[tuple[str, str], list[Any]] = {}
    for path, name, mutated in mutations(observation):
        got.setdefault((describe(path), name), []).append(mutated)
    assert got[(".status", "deleted")] == [{"resourceType": "Observation", "valueInteger": 2}]
    assert got[(".valueInteger", "a fraction")] == [observation | {"valueInteger": 2.5}]
    assert got[(".valueInteger", "an array of it")] == [observation | {"valueInteger": [2]}]
    assert got[("", "a second choice (valueInteger and valueString)")] == [observation | {"valueString": "x"}]
    assert got[("", "_x without x (status)")] == [
        {"resourceType": "Observation", "valueInteger": 2, "_status": {"extension": [_EXTENSION]}}
    ]
    assert got[("", "_x not an object (valueInteger)")] == [observation | {"_valueInteger": "x"}]
    assert (".resourceType", "deleted") not in got
    assert (".status", "2021-02-30") not in got  # not a date
    assert observation == {"resourceType": "Observation", "status": "final", "valueInteger": 2}  # untouched


# --- the property ----------------------------------------------------------------------------------------


def _in_a_bundle(resource: Resource) -> Resource:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": resource}]}


def _contained(resource: Resource) -> Resource:
    return {"resourceType": "Patient", "id": "p", "contained": [resource]}


@st.composite
def mutated_seeds(draw: st.DrawFn) -> tuple[str, list[str], Any]:
    """A seed with one to three mutations at random paths; then sent as it is, as the one entry of a
    collection Bundle, or contained in a Patient."""
    name, resource = draw(st.sampled_from(SEEDS))
    applied: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(resource))))
        mutation, make = draw(st.sampled_from(mutations_at(resource, path)))
        resource = make()
        applied.append(f"{describe(path) or '(root)'}: {mutation}")
    where = draw(st.sampled_from(["as it is", "in a Bundle", "contained"]))
    if where == "in a Bundle":
        resource = _in_a_bundle(resource)
    elif where == "contained" and resource.get("resourceType") != "Bundle":
        resource = _contained(resource)
    return f"{name} ({where})", applied, resource


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(mutated_seeds())
def test_schema_and_bindings_refuse_whatever_fhir_resources_refuses(case: tuple[str, list[str], Any]) -> None:
    seed, applied, resource = case
    if model_refuses(resource):
        assert schema_side_refuses(resource), f"{seed}: {applied}"


# --- the exhaustive variant: every single mutation of every seed -----------------------------------------


def single_mutations(seeds: list[tuple[str, Resource]]) -> Iterator[tuple[str, Path, str, Resource]]:
    """Every single mutation at every path of every seed, once per (resourceType, path with its array
    indices left out, mutation, JSON type of the value): the BaRS CapabilityStatement's seventeen
    ``rest[0].resource[i].interaction[j]`` and the six Organizations would otherwise count many times."""
    seen: set[tuple[str, str, str, str]] = set()
    for seed, resource in seeds:
        for path in _paths(resource):
            shape = re.sub(r"\[\d+\]", "[]", describe(path))
            kind = type(_get(resource, path)).__name__
            for mutation, make in mutations_at(resource, path):
                key = (resource["resourceType"], shape, mutation, kind)
                if key not in seen:
                    seen.add(key)
                    yield seed, path, mutation, make()


def test_the_exhaustive_variant_counts_each_shape_once() -> None:
    organization = {"resourceType": "Organization", "identifier": [{"value": "1"}, {"value": "2"}]}
    cases = list(single_mutations([("first", organization), ("second", copy.deepcopy(organization))]))
    assert {seed for seed, _, _, _ in cases} == {"first"}
    assert not any(1 in path for _, path, _, _ in cases)  # identifier[1] is identifier[0] again
    deletions = [describe(path) for _, path, mutation, _ in cases if mutation == "deleted"]
    assert deletions == [".identifier", ".identifier[0]", ".identifier[0].value"]


def test_every_single_mutation_refused_by_fhir_resources_is_refused_by_schema_and_bindings() -> None:
    disagreements = [
        f"{seed} {describe(path)}: {mutation}"
        for seed, path, mutation, mutated in single_mutations(SEEDS)
        if model_refuses(mutated) and not schema_side_refuses(mutated)
    ]
    by_mutation = Counter(d.rsplit(": ", 1)[1] for d in disagreements)
    assert disagreements == [], (
        f"{len(disagreements)} accepted by schema + bindings: {by_mutation.most_common()}"
    )
