"""HL7's R4 JSON Schema (compiled by jsonschema-rs, tightened by ``jsonschema_r4._tighten``) against the
``fhir.resources`` models on the bench corpus.

Since 2026-12-06 the tightened schema and the required-bindings table are the whole of
``validate_resource``; ``fhir.resources`` (``validate_model``) is off the hot path. These tests pin, case by
case, what each accepts that the other refuses: nothing the models refuse may pass the schema
(``SCHEMA_GAPS`` is empty, and each case that was in it is named in ``TIGHTENED`` with the rule that now
refuses it), and what the schema refuses beyond the models stays listed, so a change of schema, rules,
library or corpus shows here first. ``test_validator_differential.py`` carries the same comparison to
mutations of the corpus."""

from __future__ import annotations

import pytest

from bench.validation import invalid_corpus, valid_corpus
from shared.core.errors import FhirError
from shared.fhir.jsonschema_r4 import schema_issues, schema_valid
from shared.fhir.models import validate_model, validate_resource

# The vendored schema is the 4.0.0 build; jsonschema_r4._amend adds "4.0.1" to its fhirVersion enums, so
# BaRS's CapabilityStatement (fhirVersion "4.0.1") passes. See shared/fhir/data/fhir.schema.SOURCE.md.
SCHEMA_REFUSES_VALID: set[str] = set()

# Invalid cases the schema accepts and fhir.resources refuses: none. Each of the 14 it had before
# 2026-12-06, with the reason the generated schema let it through and what refuses it now (_tighten).
SCHEMA_GAPS: set[str] = set()
# The schema types ServiceRequest.status as a plain `code`: the required-bindings table refuses these.
BINDINGS_ONLY = {"ServiceRequest.status 'bogus' (required binding)"}
TIGHTENED = {
    "Patient.birthDate 31 Feb-like '2021-02-30'": "not a date the calendar has",  # pattern checked digits
    "Patient.deceasedBoolean and deceasedDateTime": "at most one is allowed",  # no choice types in it
    "ServiceRequest.status 'bogus' (required binding)": "is not in the value set",  # the bindings table
    "ServiceRequest.intent missing (1..1)": '"intent" is a required property',  # primitives not required
    "ServiceRequest.status missing (1..1)": '"status" is a required property',
    "ServiceRequest.subject a string": "must be a JSON object",  # datatypes had no "type": "object"
    "Observation.status missing (1..1)": '"status" is a required property',
    "Observation.valueInteger 1.5": "must be a JSON integer",  # integers were "type": "number"
    "Observation.valueBoolean and valueInteger": "at most one is allowed",
    "Observation.extension[0] without url": '"url" is a required property',
    "Observation.extension[0] two values": "at most one is allowed",
    "MessageHeader.eventCoding and eventUri": "at most one is allowed",
    "Encounter.class an array": "must be a JSON object",
    "Flag._status with no status (primitive extension)": '"status" is a required property',
}

# Invalid cases fhir.resources (with the required-bindings table) accepts and the schema refuses: all
# refused by validate_resource now, which runs the schema too.
FHIR_RESOURCES_GAPS = {
    "Patient.id 65 characters",
    "Patient.active as a string",  # pydantic coerces "yes" to True
    "Patient.gender null",
    "Observation.valueInteger '6'",
    "Observation.valueQuantity.value '6'",
    "Observation.code.coding[0].system ' ' (blank uri)",
    "Observation.note[0].text empty",
}
CURRENT_GAPS: set[str] = set()


def _current_accepts(resource: object) -> bool:
    try:
        validate_resource(resource)
    except FhirError:
        return False
    return True


@pytest.mark.parametrize(("name", "resource"), valid_corpus(), ids=[n for n, _ in valid_corpus()])
def test_valid_corpus(name: str, resource: dict[str, object]) -> None:
    assert _current_accepts(resource)
    assert schema_valid(resource) is (name not in SCHEMA_REFUSES_VALID)


@pytest.mark.parametrize(("name", "resource"), invalid_corpus(), ids=[n for n, _ in invalid_corpus()])
def test_invalid_corpus_each_validator(name: str, resource: dict[str, object]) -> None:
    assert _current_accepts(resource) is (name in CURRENT_GAPS)
    assert schema_valid(resource) is (name in SCHEMA_GAPS | BINDINGS_ONLY)
    if name not in SCHEMA_GAPS | BINDINGS_ONLY:
        issues = schema_issues(resource)
        assert issues and all(i["severity"] == "error" for i in issues)


def test_what_the_schema_adds_to_fhir_resources_alone() -> None:
    """The cases that put the schema on the hot path: fhir.resources' models accept each."""

    def model_accepts(resource: object) -> bool:
        try:
            validate_model(resource)
        except FhirError:
            return False
        return True

    added = {name for name, r in invalid_corpus() if model_accepts(r) and not schema_valid(r)}
    assert added == FHIR_RESOURCES_GAPS


def test_every_invalid_case_is_refused_by_one_or_the_other() -> None:
    accepted_by_both = [name for name, r in invalid_corpus() if _current_accepts(r) and schema_valid(r)]
    assert accepted_by_both == []


def test_nothing_fhir_resources_refuses_passes_the_hot_path() -> None:
    """What let fhir.resources off the hot path: every invalid case its models refuse, the schema and the
    bindings table refuse too."""

    def model_refuses(resource: object) -> bool:
        try:
            validate_model(resource)
        except FhirError:
            return True
        return False

    let_through = {name for name, r in invalid_corpus() if model_refuses(r) and _current_accepts(r)}
    assert let_through == set()


@pytest.mark.parametrize("name", sorted(TIGHTENED))
def test_each_former_gap_is_refused_with_its_reason(name: str) -> None:
    resource = dict(invalid_corpus())[name]
    with pytest.raises(FhirError) as refused:
        validate_resource(resource)
    diagnostics = [i.get("diagnostics", "") for i in refused.value.to_operation_outcome()["issue"]]
    assert any(TIGHTENED[name] in d for d in diagnostics), diagnostics


def test_schema_issue_names_the_element() -> None:
    issues = schema_issues({"resourceType": "Patient", "gender": "bloke", "name": [{"nick": "x"}]})
    expressions = {e for i in issues for e in i["expression"]}
    assert "Patient.gender" in expressions
    assert "Patient.name[0]" in expressions
    assert any("male, female" in i["diagnostics"] for i in issues)  # the codes allowed...
    assert not any("bloke" in i["diagnostics"] for i in issues)  # ...never the value sent
    codes = {i["expression"][0]: i["code"] for i in issues}
    assert codes["Patient.gender"] == "code-invalid"  # FHIR's issue type for a code outside its value set
    assert codes["Patient.name[0]"] == "structure"  # an unknown element ("nick")
    no_status = {"resourceType": "Flag", "code": {"text": "x"}, "subject": {}}
    assert schema_issues(no_status)[0]["code"] == "required"


def test_the_4_0_1_amendments() -> None:
    """HL7's 4.0.0 build, amended narrowly for what this system legitimately sends: fhirVersion 4.0.1
    and an Expression.language outside the extensible binding's codes (a published Measure's text/plain)."""
    capability = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
    }
    assert schema_valid(capability)
    assert not schema_valid(capability | {"fhirVersion": "4.0.9"})
    measure = {
        "resourceType": "Measure",
        "status": "active",
        "group": [{"population": [{"criteria": {"language": "text/plain", "expression": "x"}}]}],
    }
    assert schema_valid(measure)
    empty = {"language": "", "expression": "x"}  # still a code: not empty
    assert not schema_valid(measure | {"group": [{"population": [{"criteria": empty}]}]})


def test_one_compiled_validator_serves_every_type() -> None:
    """One compiled schema, not one per type: each per-type validator held its own copy of every
    definition (about 16 MB apiece, 657 MB for 40 types)."""
    from shared.fhir.jsonschema_r4 import _validator

    assert _validator("Patient") is _validator("Observation") is _validator("Bundle")
    assert _validator("Coding") is None


def test_unknown_type_and_non_objects() -> None:
    assert schema_issues({"resourceType": "Patiant"})[0]["expression"] == ["resourceType"]
    assert schema_issues({"gender": "male"})[0]["code"] == "required"
    assert not schema_valid([{"resourceType": "Patient"}])
    assert not schema_valid({"resourceType": "Coding"})  # a datatype, not a resource


# The resource types the services store, receive or publish (kernel.resource registrations and the
# BaRS message's entries); their top-level required bindings must all be in data/required-bindings.json.
STORED_TYPES = [
    "Appointment",
    "AuditEvent",
    "Bundle",
    "CarePlan",
    "CareTeam",
    "CodeSystem",
    "Communication",
    "Condition",
    "Consent",
    "DetectedIssue",
    "DocumentReference",
    "Encounter",
    "EpisodeOfCare",
    "Flag",
    "Goal",
    "HealthcareService",
    "Location",
    "Measure",
    "MeasureReport",
    "Medication",
    "MedicationRequest",
    "MedicationStatement",
    "MessageHeader",
    "Observation",
    "Organization",
    "Parameters",
    "Patient",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "Schedule",
    "ServiceRequest",
    "Slot",
    "Task",
    "ValueSet",
]


def test_the_bindings_table_has_every_enum_the_schema_puts_on_a_stored_type() -> None:
    """The schema found Flag.status 'on' and Slot.status 'bogus' accepted by the hot path: the table
    missed them. Every top-level enum of a stored type is now in the table, with the schema's codes."""
    from shared.fhir.bindings import REQUIRED_BINDINGS
    from shared.fhir.jsonschema_r4 import _definitions

    definitions = _definitions()
    for resource_type in STORED_TYPES:
        for field, spec in definitions[resource_type]["properties"].items():
            if "enum" in spec and field != "resourceType":
                element = f"{resource_type}.{field}"
                assert element in REQUIRED_BINDINGS, element
                assert sorted(REQUIRED_BINDINGS[element][1]) == sorted(spec["enum"]), element


_OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "pain"}}


# What _tighten adds, each from R4's datatypes page (http://hl7.org/fhir/R4/datatypes.html): integer is
# 32-bit signed (-2,147,483,648..2,147,483,647), unsignedInt >= 0, positiveInt > 0; a date "SHALL be a
# valid date" (Gregorian: 2024 and 2000 are leap years, 2023 and 1900 are not; April has 30 days).
@pytest.mark.parametrize(
    ("elements", "valid"),
    [
        ({"valueInteger": 2147483647}, True),
        ({"valueInteger": -2147483648}, True),
        ({"valueInteger": 2147483648}, False),
        ({"valueInteger": -2147483649}, False),
        ({"valueInteger": 1.5}, False),
        ({"valueInteger": -3}, True),
        ({"valueSampledData": {"origin": {"value": 0}, "period": 1, "dimensions": 1}}, True),
        ({"valueSampledData": {"origin": {"value": 0}, "period": 1, "dimensions": 0}}, False),  # positiveInt
        ({"component": [{"code": {"text": "c"}, "valueInteger": 0}]}, True),
        ({"effectiveDateTime": "2024-02-29"}, True),
        ({"effectiveDateTime": "2000-02-29T10:00:00Z"}, True),
        ({"effectiveDateTime": "2023-02-29"}, False),
        ({"effectiveDateTime": "1900-02-29"}, False),
        ({"effectiveDateTime": "2021-04-31T10:00:00+01:00"}, False),
        ({"effectiveDateTime": "2021-02"}, True),  # partial dates have no day to check
        ({"effectiveDateTime": "2021"}, True),
        ({"issued": "2021-02-30T10:00:00Z"}, False),  # instant
        ({"effectivePeriod": {"start": "2021-06-31"}}, False),  # a dateTime inside a datatype
        ({"category": [None]}, False),  # a CodeableConcept must be an object
        ({"subject": ["Patient/1"]}, False),
        ({"valueString": "a", "valueQuantity": {"value": 1}}, False),
        ({"valueString": "a", "_valueString": {"extension": [{"url": "http://x", "valueCode": "c"}]}}, True),
    ],
)
def test_tightened_rules(elements: dict[str, object], valid: bool) -> None:
    assert schema_valid(_OBSERVATION | elements) is valid


def test_a_patient_birth_date_of_the_calendar() -> None:
    patient = {"resourceType": "Patient", "birthDate": "1960-02-29"}  # 1960 is a leap year
    assert schema_valid(patient)
    assert not schema_valid(patient | {"birthDate": "1961-02-29"})


def test_extension_url_has_no_primitive_extension_and_only_resources_are_resources() -> None:
    extension = {"url": "http://example.org/x", "valueString": "a"}
    assert schema_valid(_OBSERVATION | {"extension": [extension]})
    assert not schema_valid(_OBSERVATION | {"extension": [extension | {"_url": {"id": "u"}}]})
    # ExampleScenario.instance has a resourceType element; it is not a resource type.
    assert not schema_valid({"resourceType": "ExampleScenario_Instance", "resourceId": "x"})
    assert not schema_valid({"resourceType": "Patient", "contained": [{"resourceType": "Foo", "id": "a"}]})


# Shapes that made the fhir.resources models raise something other than a validation error (a 500 from
# validate_resource until 2026-12-06), and shapes the bindings table cannot read: each a 400 now.
@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "MessageHeader", "eventUri": "urn:x", "source": {"endpoint": 5}},
        {"resourceType": "Patient", "contained": [{"resourceType": "Foo"}]},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Foo"}}]},
        {"resourceType": "Patient", "gender": ["male"]},
        {"resourceType": "Patient", "contained": 5},
        {"resourceType": "Bundle", "type": "collection", "entry": 5},
        ["Patient"],
        {"resourceType": 5},
    ],
)
def test_malformed_shapes_are_a_400_not_a_crash(resource: object) -> None:
    with pytest.raises(FhirError) as refused:
        validate_resource(resource)
    assert refused.value.status == 400


def test_a_canonical_element_may_carry_extensions_like_every_primitive() -> None:
    """R4 JSON format (Representation of primitive data types): any primitive element may have a "_x"
    sibling holding its id and extensions. HL7's generated schema gave every primitive one except those
    typed canonical; the models accept them, so _amend adds them (single and repeating)."""
    profiled = _OBSERVATION | {"meta": {"profile": ["http://example.org/p"], "_profile": [{"id": "p1"}]}}
    assert schema_valid(profiled)
    validate_model(profiled)
    task = {"resourceType": "Task", "status": "draft", "intent": "order"}
    assert schema_valid(task | {"instantiatesCanonical": "http://x.org/a", "_instantiatesCanonical": {}})
    # still an Element: a string or an unknown element in it is refused
    assert not schema_valid(_OBSERVATION | {"meta": {"profile": ["http://x"], "_profile": ["p1"]}})
    assert not schema_valid(task | {"_instantiatesCanonical": {"bogus": 1}})


def test_a_lone_surrogate_is_refused_not_a_crash() -> None:
    """Python's json reads "\\ud800" to a lone surrogate, which jsonschema-rs cannot take as UTF-8: it
    raised UnicodeEncodeError (a 500) from every check until 2026-12-06."""
    patient = {"resourceType": "Patient", "name": [{"family": "\ud800"}]}
    assert not schema_valid(patient)
    assert schema_issues(patient)[0]["code"] == "value"
    with pytest.raises(FhirError) as refused:
        validate_resource(patient)
    assert refused.value.status == 400


SENT = "Jane Smith 943 476 5919"  # what a sender might put where a name or code belongs


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": SENT},
        {"resourceType": "Patient", SENT: 1},
        {"resourceType": "Patient", "gender": SENT},
        {"resourceType": "ServiceRequest", "status": SENT, "intent": "order", "subject": {"reference": "x"}},
        {"resourceType": "Patient", "name": [{SENT: "x"}]},
    ],
)
def test_no_message_echoes_what_was_sent(resource: dict[str, object]) -> None:
    """The top-level diagnostics go into the AuditEvent's outcomeDesc and the issues back to the sender:
    neither repeats a value, nor a name that is not shaped like a FHIR name."""
    for expected in (None, "Patient"):
        with pytest.raises(FhirError) as refused:
            validate_resource(resource, expected)
        text = str(refused.value.to_operation_outcome()["issue"])  # not its random id, which may hold "943"
        assert refused.value.status == 400 and "Smith" not in text and "943" not in text, text
