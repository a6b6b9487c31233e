"""HTTP details of the FHIR API: ids in paths, ETags, resource responses, search forms."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import Path, Request
from starlette.responses import Response

from shared.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from shared.fhir.jsonio import FhirResponse

__all__ = [
    "FHIR_ID",
    "MAX_SEARCH_FORM_BYTES",
    "etag_version",
    "id_path",
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


def resource_response(resource: dict[str, Any], status: int = 200, location: str | None = None) -> Response:
    meta = resource.get("meta", {})
    headers = {"ETag": f'W/"{meta.get("versionId", "1")}"'}
    if location:
        headers["Location"] = location
    return FhirResponse(resource, status_code=status, headers=headers)


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
