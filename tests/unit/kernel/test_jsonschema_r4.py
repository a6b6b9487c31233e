"""HL7's R4 JSON Schema (compiled by jsonschema-rs) against ``validate_resource`` on the bench corpus.

The schema is a second gate on the hot path (``validate_resource`` runs it after ``fhir.resources``), not a
replacement: alone it accepts what ``fhir.resources`` refuses (the pinned ``SCHEMA_GAPS`` below). These
tests pin, case by case, what each accepts that the other refuses, so a change of schema, library or
corpus shows here before anyone relies on either alone."""

from __future__ import annotations

import pytest

from bench.validation import invalid_corpus, valid_corpus
from shared.core.errors import FhirError
from shared.fhir.jsonschema_r4 import schema_issues, schema_valid
from shared.fhir.models import validate_model, validate_resource

# The vendored schema is the 4.0.0 build; jsonschema_r4._amend adds "4.0.1" to its fhirVersion enums, so
# BaRS's CapabilityStatement (fhirVersion "4.0.1") passes. See shared/fhir/data/fhir.schema.SOURCE.md.
SCHEMA_REFUSES_VALID: set[str] = set()

# Invalid cases the schema accepts and fhir.resources refuses: the reason the schema cannot replace it.
SCHEMA_GAPS = {
    "Patient.birthDate 31 Feb-like '2021-02-30'",  # the pattern checks digits, not the calendar
    "Patient.deceasedBoolean and deceasedDateTime",  # choice types: no "one of [x]" in the schema
    "ServiceRequest.status 'bogus' (required binding)",  # typed `code` there, not an enum
    "ServiceRequest.intent missing (1..1)",  # required primitives are not in "required"
    "ServiceRequest.status missing (1..1)",
    "ServiceRequest.subject a string",  # datatypes carry no "type": "object"
    "Observation.status missing (1..1)",
    "Observation.valueInteger 1.5",  # integers are "type": "number"
    "Observation.valueBoolean and valueInteger",
    "Observation.extension[0] without url",
    "Observation.extension[0] two values",
    "MessageHeader.eventCoding and eventUri",
    "Encounter.class an array",
    "Flag._status with no status (primitive extension)",
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
    assert schema_valid(resource) is (name in SCHEMA_GAPS)
    if name not in SCHEMA_GAPS:
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


def test_what_fhir_resources_refuses_the_schema_alone_would_let_through() -> None:
    """The differential that keeps fhir.resources on the hot path: replacing it by the schema would
    accept each of these, all of which are refused today."""
    let_through = {name for name, r in invalid_corpus() if not _current_accepts(r) and schema_valid(r)}
    assert let_through == SCHEMA_GAPS


def test_schema_issue_names_the_element() -> None:
    issues = schema_issues({"resourceType": "Patient", "gender": "bloke", "name": [{"nick": "x"}]})
    expressions = {e for i in issues for e in i["expression"]}
    assert "Patient.gender" in expressions
    assert "Patient.name[0]" in expressions
    assert any("male, female" in i["diagnostics"] for i in issues)  # the codes allowed...
    assert not any("bloke" in i["diagnostics"] for i in issues)  # ...never the value sent


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
