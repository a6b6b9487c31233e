"""FHIR JSON values every service reads and writes the same way: NHS numbers, references, the resources
of a Bundle and instants. Plain functions that depend on nothing of the project (only the ``nhs-number``
package, for the check digit), so pure rule modules may use them too; ``shared.fhir`` exports them with
``Parameters``.

An NHS number (an Identifier of ``NHS_NUMBER_SYSTEM``) is exactly ten ASCII digits, written without
spaces or dashes, whose last digit is the Modulus 11 check digit of the nine before it, and not
``0000000000``; ``nhs_number_problems`` names each element of a resource that carries one that is not,
and each Identifier whose system is nearly the NHS number's (``http://``, another case, a trailing slash
or a character added): such a system is a typing error, never another identifier to keep silently.

Instants are written in UTC with a ``Z`` (seconds by default, milliseconds for ``meta.lastUpdated``) from
aware datetimes only: a naive datetime is refused (``ValueError``), never guessed at; a FHIR ``date`` or
``dateTime`` read back is an aware UTC datetime (a bare date is midnight UTC).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal

from nhs_number.validate import is_valid

__all__ = [
    "NHS_NUMBER_SYSTEM",
    "ODS_SYSTEM",
    "bundle_resources",
    "carried_resources",
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

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"


_TEN_DIGITS = re.compile(r"[0-9]{10}")
_NO_NHS_NUMBER = "0000000000"
_NHS_NUMBER_SYSTEM_FOLDED = "fhir.nhs.uk/id/nhsnumber"
_NHS_NUMBER_RULE = (
    "An NHS number is exactly ten digits, without spaces, the last the Modulus 11 check digit of the others"
)


def is_nhs_number(value: object) -> bool:
    """Whether ``value`` is an NHS number as an Identifier carries it: ten ASCII digits (no spaces, no
    dashes), a valid Modulus 11 check digit (``nhs_number.is_valid``), and not ``0000000000`` (the one
    string of ten digits that passes the check and lies below every range numbers are issued from: a
    placeholder, never a patient's)."""
    return (
        isinstance(value, str)
        and _TEN_DIGITS.fullmatch(value) is not None
        and value != _NO_NHS_NUMBER
        and is_valid(value)
    )


def _nearly_nhs_number_system(system: str) -> bool:
    folded = system.strip().lower().replace("-", "").replace("_", "")
    return system != NHS_NUMBER_SYSTEM and _NHS_NUMBER_SYSTEM_FOLDED in folded


def _nhs_number_problems(node: Mapping[str, Any], path: str, found: list[tuple[str, str]]) -> None:
    system = node.get("system")
    if isinstance(system, str) and "code" not in node:  # an Identifier (a Coding has a code instead)
        if system == NHS_NUMBER_SYSTEM and not is_nhs_number(node.get("value")):
            found.append((f"{path}.value", _NHS_NUMBER_RULE))
        elif _nearly_nhs_number_system(system):
            found.append((f"{path}.system", f"An NHS number's system is exactly {NHS_NUMBER_SYSTEM}"))
    for key, value in node.items():
        if isinstance(value, Mapping):
            _nhs_number_problems(value, f"{path}.{key}", found)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    _nhs_number_problems(item, f"{path}.{key}[{i}]", found)


def nhs_number_problems(resource: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """``(element, why)`` for each Identifier anywhere in ``resource`` (its own identifiers, a Reference's
    ``identifier``, a contained resource's) whose system is the NHS number's and whose value is not an NHS
    number, or whose system is nearly the NHS number's; the element is named as FHIRPath from the
    resource type (``Patient.identifier[1].value``), the value never repeated."""
    found: list[tuple[str, str]] = []
    if isinstance(resource, Mapping):
        kind = str(resource.get("resourceType") or "Resource")
        _nhs_number_problems(resource, kind, found)
        identifiers = resource.get("identifier")
        numbers = {n for n in map(_nhs_number_in, identifiers if isinstance(identifiers, list) else ()) if n}
        if len(numbers) > 1:
            # a person has one NHS number; a second one slipped past the one-Patient-per-number check, which
            # reads the first (an attacker's follow-up, 2026-12-07)
            found.append((f"{kind}.identifier", "A resource names one person: it carries one NHS number"))
    return found


def nhs_number_identifier(number: str) -> dict[str, str]:
    """The ``Identifier`` of an NHS number."""
    return {"system": NHS_NUMBER_SYSTEM, "value": number}


def _nhs_number_in(identifier: Any) -> str | None:
    if isinstance(identifier, Mapping) and identifier.get("system") == NHS_NUMBER_SYSTEM:
        value = identifier.get("value")
        if isinstance(value, str) and value:
            return value
    return None


def nhs_number_of(resource: Mapping[str, Any] | None) -> str | None:
    """The NHS number among a resource's identifiers (``None`` when it has none)."""
    if not isinstance(resource, Mapping):
        return None
    return next(filter(None, map(_nhs_number_in, resource.get("identifier") or ())), None)


def nhs_number_of_reference(value: Mapping[str, Any] | None) -> str | None:
    """The NHS number a ``Reference`` names by its ``identifier`` (one Identifier, not a list, in a
    Reference: ``Task.for``, ``MedicationRequest.subject``); ``None`` when it names none."""
    return _nhs_number_in(value.get("identifier")) if isinstance(value, Mapping) else None


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
