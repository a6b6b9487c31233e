"""The shared FHIR JSON values: one reading of NHS numbers, references, Bundles, instants, Parameters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core.errors import BadRequest
from shared.fhir.values import (
    NHS_NUMBER_SYSTEM,
    Parameters,
    bundle_resources,
    carried_resources,
    format_instant,
    nhs_number_identifier,
    nhs_number_of,
    nhs_number_of_reference,
    parse_instant,
    reference,
    reference_id,
)

MRN_ONLY = {"resourceType": "Patient", "identifier": [{"system": "https://example.org/mrn", "value": "X1"}]}
BST = timezone(timedelta(hours=1))
PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [{"system": "https://example.org/mrn", "value": "X1"}, nhs_number_identifier("9990000018")],
}


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (PATIENT, "9990000018"),
        (MRN_ONLY, None),
        ({"resourceType": "Patient", "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": ""}]}, None),
        (
            {
                "resourceType": "Patient",
                "identifier": [
                    {"system": NHS_NUMBER_SYSTEM, "value": ""},
                    nhs_number_identifier("9990000018"),
                ],
            },
            "9990000018",
        ),
        ({"resourceType": "Patient"}, None),
        (None, None),
    ],
)
def test_nhs_number_of(resource: object, expected: str | None) -> None:
    assert nhs_number_of(resource) == expected  # type: ignore[arg-type]


# A Reference names its target by one Identifier (FHIR R4 Reference.identifier, 0..1), not a list; the
# NHS number's system is NHS England's https://fhir.nhs.uk/Id/nhs-number.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {
                "reference": "Patient/p1",
                "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"},
            },
            "9990000018",
        ),
        ({"identifier": {"system": "https://example.org/mrn", "value": "X1"}}, None),
        ({"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": ""}}, None),
        ({"identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}]}, None),
        ({"reference": "Patient/p1"}, None),
        (None, None),
    ],
)
def test_nhs_number_of_reference(value: object, expected: str | None) -> None:
    assert nhs_number_of_reference(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ({"reference": "Patient/p1"}, "Patient", "p1"),
        ("Patient/p1", "Patient", "p1"),
        ({"reference": "Practitioner/p1"}, "Patient", None),
        ({"reference": "https://elsewhere.example/Patient/p1"}, "Patient", None),
        ({"reference": "Patient/p1/_history/2"}, "Patient", None),
        ({"reference": "Patient/"}, "Patient", None),
        ({"display": "no reference"}, "Patient", None),
        (None, "Patient", None),
    ],
)
def test_reference_id(value: object, kind: str, expected: str | None) -> None:
    assert reference_id(value, kind) == expected  # type: ignore[arg-type]


def test_reference() -> None:
    assert reference(PATIENT) == "Patient/p1"


def test_bundle_resources_in_order_and_by_type() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "MessageHeader", "id": "h"}},
            {"fullUrl": "urn:uuid:1"},  # an entry without a resource is skipped
            {"resource": PATIENT},
            {"resource": {"resourceType": "Patient", "id": "p2"}},
        ],
    }
    assert [r["id"] for r in bundle_resources(bundle)] == ["h", "p1", "p2"]
    assert [r["id"] for r in bundle_resources(bundle, "Patient")] == ["p1", "p2"]
    assert list(bundle_resources(None)) == []


@pytest.mark.parametrize(
    ("data", "kind", "expected"),
    [
        ({"resourceType": "Bundle", "entry": [{"resource": PATIENT}, {"resource": MRN_ONLY}]}, None, 2),
        ({"resourceType": "Bundle", "entry": [{"resource": PATIENT}]}, "Patient", 1),
        ({"resourceType": "Bundle", "entry": [{"resource": PATIENT}]}, "CarePlan", 0),
        (PATIENT, "Patient", 1),  # a resource sent alone carries itself
        (PATIENT, None, 1),
        (PATIENT, "CarePlan", 0),
        ({"resourceType": "List", "entry": [{"item": {"reference": "Patient/p1"}}]}, "Patient", 0),
        (None, None, 0),
    ],
)
def test_carried_resources(data: object, kind: str | None, expected: int) -> None:
    assert len(carried_resources(data, kind)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("moment", "timespec", "expected"),
    [
        (datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC), "seconds", "2026-03-01T09:30:15Z"),
        (datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC), "milliseconds", "2026-03-01T09:30:15.123Z"),
        # 10:30 in British Summer Time (UTC+1) is 09:30 UTC
        (datetime(2026, 6, 1, 10, 30, tzinfo=BST), "seconds", "2026-06-01T09:30:00Z"),
        (date(2026, 3, 1), "seconds", "2026-03-01"),
    ],
)
def test_format_instant(moment: datetime | date, timespec: str, expected: str) -> None:
    assert format_instant(moment, timespec) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("timespec", ["seconds", "milliseconds"])
def test_format_instant_refuses_a_naive_datetime(timespec: str) -> None:
    """No guessing at a zone: SQLite's naive datetimes are made aware where they are read."""
    with pytest.raises(ValueError, match="naive"):
        format_instant(datetime(2026, 3, 1, 9, 30), timespec)  # type: ignore[arg-type]


@given(st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.timezones()))
def test_instant_is_utc_whatever_zone_it_was_given_in(moment: datetime) -> None:
    text = format_instant(moment, "milliseconds")
    assert text.endswith("Z")
    assert parse_instant(text) == moment.astimezone(UTC).replace(
        microsecond=moment.microsecond // 1000 * 1000
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T09:30:15Z", datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)),
        ("2026-06-01T10:30:00+01:00", datetime(2026, 6, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T09:30:00", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_parse_instant(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "2026-02-30"])
def test_parse_instant_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)


@given(st.datetimes(timezones=st.just(UTC)))
def test_instant_round_trips_to_the_second(moment: datetime) -> None:
    assert parse_instant(format_instant(moment)) == moment.replace(microsecond=0)


def _params(*parameters: dict[str, object]) -> Parameters:
    return Parameters({"resourceType": "Parameters", "parameter": list(parameters)})


def test_parameters_read_by_name() -> None:
    params = _params(
        {"name": "flag", "valueBoolean": True},
        {"name": "order", "valueString": "morphine"},
        {"name": "order", "valueString": "codeine"},
        {"name": "target", "valueQuantity": {"value": 12.5, "unit": "mg/d"}},
        {"name": "kind", "valueCoding": {"system": "https://example.org", "code": "flare"}},
        {"name": "on", "valueDate": "2026-03-01"},
        {"name": "at", "valueDateTime": "2026-03-01T10:00:00+01:00"},
        {"name": "patient", "resource": PATIENT},
    )
    assert params.boolean("flag") is True
    assert params.values("order") == ["morphine", "codeine"]
    assert params.text("order") == "morphine"
    assert params.decimal("target") == Decimal("12.5")
    assert params.text("kind") == "flare"
    assert params.day("on") == date(2026, 3, 1)
    assert params.moment("at") == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert params.resource("patient") == PATIENT
    assert "flag" in params and "absent" not in params
    assert params.value("absent") is None and params.decimal("absent") is None


def test_no_body_is_no_parameters() -> None:
    assert Parameters(None).value("anything") is None


@pytest.mark.parametrize(
    ("parameter", "read"),
    [
        ({"name": "x", "valueString": "NaN"}, "decimal"),
        ({"name": "x", "valueString": "Infinity"}, "decimal"),
        ({"name": "x", "valueString": "lots"}, "decimal"),
        ({"name": "x", "valueBoolean": True}, "decimal"),
        ({"name": "x", "valueString": "true"}, "boolean"),
        ({"name": "x", "valueString": "01/03/2026"}, "day"),
        ({"name": "x", "valueString": "soon"}, "moment"),
    ],
)
def test_parameters_refuse_the_wrong_kind_naming_it(parameter: dict[str, object], read: str) -> None:
    with pytest.raises(BadRequest, match="'x'"):
        getattr(_params(parameter), read)("x")


@pytest.mark.parametrize("body", [{"resourceType": "Patient"}, [], "Parameters"])
def test_a_body_that_is_not_parameters_is_a_400(body: object) -> None:
    with pytest.raises(BadRequest):
        Parameters(body)
