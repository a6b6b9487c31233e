"""HTTP details of the FHIR API: ids in paths, ETags, resource responses, search forms, content
negotiation (``Accept``, ``_format``) and ``Prefer``."""

from __future__ import annotations

from datetime import UTC
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Path, Request
from starlette.responses import Response

from shared.core.errors import (
    BadRequest,
    FhirError,
    PayloadTooLarge,
    UnsupportedMediaType,
    information_outcome,
)
from shared.fhir.jsonio import FhirResponse
from shared.fhir.values import parse_instant

__all__ = [
    "FHIR_ID",
    "MAX_SEARCH_FORM_BYTES",
    "NotAcceptable",
    "etag_version",
    "fhir_json_only",
    "id_path",
    "insufficient_scope",
    "no_other_fhir_format",
    "preferences",
    "resource_response",
    "search_form",
    "version_number",
]

FHIR_ID = r"^[A-Za-z0-9\-\.]{1,64}$"


def id_path(description: str = "Logical id of the resource") -> Any:
    """A fresh path parameter for a FHIR id (each parameter needs its own instance)."""
    return Path(pattern=FHIR_ID, description=description)


def etag_version(header: str | None) -> int | None:
    """Parse ``If-Match: W/"3"`` (or ``"3"``) into 3; 400 for anything else."""
    if header is None:
        return None
    text = header.strip()
    if text.startswith("W/"):
        text = text[2:]
    version = version_number(text.strip('"'))
    if version is None:
        raise BadRequest('If-Match must be a version ETag such as W/"1"')
    return version


MAX_VERSION_DIGITS = 9


def version_number(text: str) -> int | None:
    """A version id as a number: 1 to 9 ASCII digits (a bigger one is no version of ours, and would
    overflow the database's integers); ``None`` for anything else."""
    if not (0 < len(text) <= MAX_VERSION_DIGITS and text.isascii() and text.isdigit()):
        return None
    return int(text)


def http_date(instant: str) -> str:
    """A FHIR instant (``meta.lastUpdated``) as an HTTP-date (RFC 9110 5.6.7), to the second."""
    return format_datetime(parse_instant(instant).astimezone(UTC), usegmt=True)


def resource_response(
    resource: dict[str, Any],
    status: int = 200,
    location: str | None = None,
    *,
    prefer_return: str | None = None,
) -> Response:
    """A resource's answer with its ``ETag`` and ``Last-Modified`` (and ``Location`` when given). A write
    honours ``Prefer: return=`` (R4 http.html#ops): ``minimal`` is no body, ``OperationOutcome`` an
    informational OperationOutcome, anything else (``representation``, the default) the resource."""
    meta = resource.get("meta", {})
    version = meta.get("versionId", "1")
    headers = {"ETag": f'W/"{version}"'}
    if isinstance(meta.get("lastUpdated"), str):
        headers["Last-Modified"] = http_date(meta["lastUpdated"])
    if location:
        headers["Location"] = location
    if prefer_return == "minimal":
        return Response(status_code=status, headers=headers)
    if prefer_return == "OperationOutcome":
        done = {201: "created"}.get(status, "stored")
        what = f"{resource.get('resourceType')}/{resource.get('id')}"
        outcome = information_outcome(f"{what} {done} as version {version}")
        return FhirResponse(outcome, status_code=status, headers=headers)
    return FhirResponse(resource, status_code=status, headers=headers)


def preferences(request: Request) -> dict[str, str]:
    """The ``Prefer`` header's preferences (RFC 7240), name to value (``""`` when it has none):
    ``{"return": "minimal", "handling": "lenient"}``. Names are case-insensitive, values are not (R4
    spells ``return=OperationOutcome``); the first of a name given twice counts (RFC 7240 2)."""
    found: dict[str, str] = {}
    for header in request.headers.getlist("prefer"):
        for preference in header.split(","):
            name, _, value = preference.split(";", 1)[0].partition("=")
            name = name.strip().lower()
            if name:
                found.setdefault(name, value.strip().strip('"'))
    return found


def insufficient_scope(scope: str) -> dict[str, str]:
    """The challenge of a 403 for a token without the scope a request needs (RFC 6750 3.1)."""
    return {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'}


class NotAcceptable(FhirError):
    """406: the request accepts no representation this server gives (BaRS ``REC_NOT_ACCEPTABLE``)."""

    status = 406
    issue_code = "not-supported"
    bars_code = "REC_NOT_ACCEPTABLE"


JSON_TYPES = frozenset(
    {"application/fhir+json", "application/json", "application/json+fhir", "json", "*/*", "application/*"}
)
"""What an ``Accept`` or ``_format`` may name for this server's FHIR R4 JSON (``json``: R4's ``_format``
short form; ``*/*`` and ``application/*`` take it too, so a browser's ``Accept`` gets JSON)."""
OTHER_FHIR_FORMATS = frozenset(
    {
        "xml",
        "text/xml",
        "application/xml",
        "application/fhir+xml",
        "application/xml+fhir",
        "ttl",
        "text/turtle",
        "application/fhir+turtle",
        "application/x-turtle",
    }
)
"""FHIR's other formats (XML, Turtle): no route of this server gives them, operations included."""
FHIR_VERSION = "4.0"  # the MAJOR.MINOR a fhirVersion media type parameter names (R4 http.html#version)


def _ranges(request: Request) -> list[str]:
    """What the request asks for: ``_format`` when given (it overrides ``Accept``), else ``Accept``."""
    wanted = request.query_params.get("_format")
    if wanted is not None:
        # A "+" written into a query by hand decodes to a space: "application/fhir json" means "+".
        return [wanted.replace(" ", "+")]
    return ",".join(request.headers.getlist("accept")).split(",")


def _acceptable(ranges: list[str], *, renders_others: bool) -> bool:
    """True when some range with a q above 0 takes FHIR R4 JSON (or, ``renders_others``, a type that is
    no other FHIR format: an operation may render it); an ``Accept`` with no range takes anything."""
    if not any(r.strip() for r in ranges):
        return True
    for media_range in ranges:
        media, *parameters = (part.strip() for part in media_range.split(";"))
        values = {}
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            values[name.strip().lower()] = value.strip().strip('"')
        try:
            if float(values.get("q", "1")) <= 0:
                continue
        except ValueError:
            pass  # a malformed weight: the range counts as it would without one
        version = values.get("fhirversion")
        if version is not None and version != FHIR_VERSION and not version.startswith(f"{FHIR_VERSION}."):
            continue
        media = media.lower()
        if media in JSON_TYPES or (renders_others and media and media not in OTHER_FHIR_FORMATS):
            return True
    return False


def _negotiate(request: Request, *, renders_others: bool) -> None:
    ranges = _ranges(request)
    if _acceptable(ranges, renders_others=renders_others):
        return
    asked = "_format" if "_format" in request.query_params else "Accept"
    shown = ",".join(ranges).strip()[:120]
    raise NotAcceptable(
        f"This server answers in FHIR R4 JSON only (application/fhir+json; fhirVersion={FHIR_VERSION}),"
        f" which {asked} {shown!r} does not accept",
        expression=[f"http.{asked}"],
    )


async def fhir_json_only(request: Request) -> None:
    """A dependency of every REST interaction and ``/metadata``: 406 unless the request (``_format``
    over ``Accept``, R4 http.html#mime-type) accepts FHIR R4 JSON, before anything is read or written."""
    _negotiate(request, renders_others=False)


async def no_other_fhir_format(request: Request) -> None:
    """An operation's: 406 for FHIR XML or Turtle, or another FHIR version, only; an operation may render
    a type of its own (a PDF letter, an HTML report) and reads ``_format``/``Accept`` itself for it."""
    _negotiate(request, renders_others=True)


MAX_SEARCH_FORM_BYTES = 64 * 1024
"""A ``POST _search`` form: its parameters are then bounded as a query's are (``shared.fhir.search``)."""


async def search_form(request: Request) -> list[tuple[str, str]]:
    """The parameters of a ``POST [type]/_search`` form, read in bounded memory: 415 unless it is
    ``application/x-www-form-urlencoded``, 413 past ``MAX_SEARCH_FORM_BYTES`` (as it streams)."""
    media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type not in ("application/x-www-form-urlencoded", ""):
        raise UnsupportedMediaType("A search form is application/x-www-form-urlencoded")
    limit = MAX_SEARCH_FORM_BYTES
    declared = request.headers.get("content-length") or ""
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"A search form is at most {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"A search form is at most {limit} bytes")
        chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The search form is not URL-encoded UTF-8 of at most 100 fields") from None
