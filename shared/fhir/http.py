"""HTTP details of the FHIR API: ids in paths, ETags, resource responses."""

from __future__ import annotations

from typing import Any

from fastapi import Path
from starlette.responses import Response

from shared.fhir.errors import BadRequest
from shared.fhir.jsonio import FhirResponse

__all__ = ["FHIR_ID", "etag_version", "id_path", "resource_response"]

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
