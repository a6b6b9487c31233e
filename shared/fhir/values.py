"""FHIR JSON values every service reads and writes the same way: NHS numbers, references, the resources
of a Bundle, instants and ``Parameters``.

One definition each, so that precision, time zones and refusals agree across services:

- instants are written in UTC with a ``Z`` (seconds by default, milliseconds for ``meta.lastUpdated``)
  from aware datetimes only: a naive datetime is refused (``ValueError``), never guessed at; a FHIR
  ``date`` or ``dateTime`` read back is an aware UTC datetime (a bare date is midnight UTC);
- a ``Parameters`` body that is not one, or a value of the wrong kind, is a 400 naming the parameter;
- a resource carrying an NHS number that is not one (``shared.core.values.nhs_number_problems``) is a
  400 naming each element (``check_nhs_numbers``: the kernel's create and update, referral's BaRS intake).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.core.errors import BadRequest, InvalidResource
from shared.core.values import (
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    bundle_resources,
    carried_resources,
    format_instant,
    is_nhs_number,
    nhs_number_identifier,
    nhs_number_of,
    nhs_number_of_reference,
    nhs_number_problems,
    parse_instant,
    reference,
    reference_id,
)
from shared.fhir.models import validate_resource

__all__ = [
    "NHS_NUMBER_SYSTEM",
    "ODS_SYSTEM",
    "Parameters",
    "bundle_resources",
    "carried_resources",
    "check_nhs_numbers",
    "format_instant",
    "is_nhs_number",
    "nhs_number_identifier",
    "nhs_number_of",
    "nhs_number_of_reference",
    "nhs_number_problems",
    "parse_instant",
    "reference",
    "reference_id",
]

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


def check_nhs_numbers(resource: Any) -> None:
    """Refuse (400, one issue per element) a resource carrying an NHS number that is not one, or an
    Identifier whose system is nearly the NHS number's; the value is never repeated in the answer."""
    if problems := nhs_number_problems(resource):
        issues = [
            {"severity": "error", "code": "value", "diagnostics": why, "expression": [where]}
            for where, why in problems[:20]
        ]
        raise InvalidResource("The resource carries an NHS number that is not valid", issues=issues)


class Parameters:
    """A ``Parameters`` body read by name; each accessor refuses a value of the wrong kind with a 400
    naming the parameter. An absent body reads as no parameters."""

    def __init__(self, body: Any) -> None:
        self.by_name: dict[str, list[dict[str, Any]]] = {}
        if body is None:
            return
        if isinstance(body, dict) and body.get("parameter") == []:
            # The one empty array read (as no parameters) rather than refused: a client building the list
            # from its arguments sends it, and an operation's input is read, never stored.
            body = {key: value for key, value in body.items() if key != "parameter"}
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
