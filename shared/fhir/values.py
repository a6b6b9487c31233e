"""FHIR JSON values every service reads and writes the same way: NHS numbers, references, the resources
of a Bundle, instants and ``Parameters``.

One definition each, so that precision, time zones and refusals agree across services:

- instants are written in UTC with a ``Z`` (seconds by default, milliseconds for ``meta.lastUpdated``)
  from aware datetimes only: a naive datetime is refused (``ValueError``), never guessed at; a FHIR
  ``date`` or ``dateTime`` read back is an aware UTC datetime (a bare date is midnight UTC);
- a ``Parameters`` body that is not one, or a value of the wrong kind, is a 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from shared.core.errors import BadRequest
from shared.fhir.models import validate_resource

__all__ = [
    "NHS_NUMBER_SYSTEM",
    "ODS_SYSTEM",
    "Parameters",
    "bundle_resources",
    "carried_resources",
    "format_instant",
    "nhs_number_identifier",
    "nhs_number_of",
    "parse_instant",
    "reference",
    "reference_id",
]

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"


def nhs_number_identifier(number: str) -> dict[str, str]:
    """The ``Identifier`` of an NHS number."""
    return {"system": NHS_NUMBER_SYSTEM, "value": number}


def nhs_number_of(resource: Mapping[str, Any] | None) -> str | None:
    """The NHS number among a resource's identifiers (``None`` when it has none)."""
    if not isinstance(resource, Mapping):
        return None
    for identifier in resource.get("identifier") or ():
        if isinstance(identifier, Mapping) and identifier.get("system") == NHS_NUMBER_SYSTEM:
            value = identifier.get("value")
            if isinstance(value, str) and value:
                return value
    return None


def reference(resource: Mapping[str, Any]) -> str:
    """``Type/id`` of a stored resource."""
    return f"{resource['resourceType']}/{resource['id']}"


def reference_id(value: Mapping[str, Any] | str | None, resource_type: str) -> str | None:
    """The id in a relative reference to ``resource_type`` (a ``Reference`` or its ``reference`` text);
    ``None`` when it names another type, an absolute URL or nothing."""
    text = value.get("reference") if isinstance(value, Mapping) else value
    if not isinstance(text, str):
        return None
    kind, _, rest = text.partition("/")
    if kind != resource_type or not rest or "/" in rest:
        return None
    return rest


def bundle_resources(
    bundle: Mapping[str, Any] | None, resource_type: str | None = None
) -> Iterator[dict[str, Any]]:
    """The resources of a Bundle's entries, in order (only those of ``resource_type`` when given)."""
    if not isinstance(bundle, Mapping):
        return
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, dict):
            continue
        if resource_type is None or resource.get("resourceType") == resource_type:
            yield resource


def carried_resources(
    data: Mapping[str, Any] | None, resource_type: str | None = None
) -> list[dict[str, Any]]:
    """The resources an event's data (or any payload) carries: a Bundle's entries' resources, or the
    payload itself when it is a single resource; only those of ``resource_type`` when given."""
    if not isinstance(data, Mapping):
        return []
    if data.get("resourceType") == "Bundle":
        return list(bundle_resources(data, resource_type))
    if resource_type is None or data.get("resourceType") == resource_type:
        return [dict(data)]
    return []


def format_instant(moment: datetime | date, timespec: Literal["seconds", "milliseconds"] = "seconds") -> str:
    """A FHIR ``instant``/``dateTime`` in UTC ending ``Z``, or a FHIR ``date`` for a date. A naive
    datetime is a ``ValueError``: whoever read it (SQLite hands them back) knows its zone, this does not."""
    if not isinstance(moment, datetime):
        return moment.isoformat()
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime has no FHIR instant: give it its time zone (UTC)")
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """A FHIR ``date``, ``dateTime`` or ``instant`` as an aware UTC datetime (a date, or a dateTime without
    an offset, is taken as UTC; a date is its midnight). ``ValueError`` when it is none of them."""
    if not isinstance(text, str) or not text:
        raise ValueError("not a FHIR date or dateTime")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


_VALUE_KEYS = (
    "valueBoolean",
    "valueCode",
    "valueString",
    "valueInteger",
    "valuePositiveInt",
    "valueUnsignedInt",
    "valueDecimal",
    "valueDate",
    "valueDateTime",
    "valueInstant",
    "valueUri",
    "valueId",
    "valueQuantity",
    "valueReference",
    "valueCoding",
    "valueCodeableConcept",
    "valuePeriod",
)


class Parameters:
    """A ``Parameters`` body read by name; each accessor refuses a value of the wrong kind with a 400
    naming the parameter. An absent body reads as no parameters."""

    def __init__(self, body: Any) -> None:
        self.by_name: dict[str, list[dict[str, Any]]] = {}
        if body is None:
            return
        validate_resource(body, "Parameters")  # a 400 naming what is wrong, as for any resource
        for parameter in body.get("parameter") or ():
            self.by_name.setdefault(str(parameter["name"]), []).append(parameter)

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    @staticmethod
    def _value_of(parameter: Mapping[str, Any]) -> Any:
        return next((parameter[k] for k in _VALUE_KEYS if k in parameter), parameter.get("resource"))

    def value(self, name: str) -> Any:
        """The value[x] (or resource) of the first parameter ``name``; ``None`` when absent."""
        found = self.by_name.get(name)
        return self._value_of(found[0]) if found else None

    def values(self, name: str) -> list[Any]:
        """The value[x] (or resource) of every parameter ``name``, in order."""
        return [self._value_of(p) for p in self.by_name.get(name, [])]

    def resource(self, name: str) -> dict[str, Any] | None:
        found = self.by_name.get(name)
        resource = found[0].get("resource") if found else None
        return resource if isinstance(resource, dict) else None

    def text(self, name: str) -> str | None:
        """A string, code, uri or Coding's code."""
        value = self.value(name)
        if isinstance(value, dict):
            if "code" not in value:
                raise BadRequest(f"Parameter '{name}' must be a code or string")
            value = value["code"]
        if value is None:
            return None
        if isinstance(value, bool | list):
            raise BadRequest(f"Parameter '{name}' must be a code or string")
        return str(value)

    def boolean(self, name: str) -> bool | None:
        value = self.value(name)
        if value is None or isinstance(value, bool):
            return value
        raise BadRequest(f"Parameter '{name}' must be a boolean")

    def decimal(self, name: str) -> Decimal | None:
        """A decimal, integer or Quantity's value; finite (NaN and Infinity are refused)."""
        value = self.value(name)
        if isinstance(value, dict):
            value = value.get("value")
        if value is None:
            return None
        if isinstance(value, bool):
            raise BadRequest(f"Parameter '{name}' must be a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise BadRequest(f"Parameter '{name}' must be a number") from exc
        if not number.is_finite():  # 'NaN' and 'Infinity' parse, then fail every comparison
            raise BadRequest(f"Parameter '{name}' must be a finite number")
        return number

    def day(self, name: str) -> date | None:
        """A date (the date part of a dateTime)."""
        text = self.text(name)
        if text is None:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError as exc:
            raise BadRequest(f"Parameter '{name}' must be a date (YYYY-MM-DD)") from exc

    def moment(self, name: str) -> datetime | None:
        """A dateTime or instant as an aware UTC datetime."""
        text = self.text(name)
        if text is None:
            return None
        try:
            return parse_instant(text)
        except ValueError as exc:
            raise BadRequest(f"Parameter '{name}' must be a dateTime") from exc
