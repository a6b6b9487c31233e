"""FHIR JSON in and out: ``application/fhir+json``, orjson, with limits against hostile bodies."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from starlette.responses import Response

from shared.core.errors import BadRequest, UnsupportedMediaType

FHIR_JSON = "application/fhir+json"
ACCEPTED_MEDIA_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})
MAX_DEPTH = 64

__all__ = ["FHIR_JSON", "MAX_DEPTH", "FhirResponse", "check_media_type", "depth_ok", "dumps", "loads"]


def check_media_type(content_type: str | None) -> None:
    """Refuse bodies that are not FHIR JSON (415)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in ACCEPTED_MEDIA_TYPES:
        shown = media_type or "none"
        raise UnsupportedMediaType(f"Content-Type {shown!r} is not supported; send {FHIR_JSON}")


def _too_deep(container: Any, allowed: int) -> bool:
    # Recursion stops at ``allowed`` levels, so a hostile body cannot exhaust the Python stack: the
    # deepest this goes is MAX_DEPTH frames. (Several times faster than an explicit stack here.)
    if allowed == 0:
        return True
    children = container.values() if type(container) is dict else container
    for child in children:
        kind = type(child)
        if (kind is dict or kind is list) and _too_deep(child, allowed - 1):
            return True
    return False


def depth_ok(value: Any, limit: int) -> bool:
    """True when ``value`` nests at most ``limit`` objects and arrays (itself included)."""
    if type(value) is not dict and type(value) is not list:
        return True
    return not _too_deep(value, limit)


def _members(container: Any, allowed: int) -> int:
    # The walk of ``_too_deep`` that also counts the members every object kept: -1 when the nesting
    # goes deeper than ``allowed`` levels.
    if allowed == 0:
        return -1
    if type(container) is dict:
        count, children = len(container), container.values()
    else:
        count, children = 0, container
    for child in children:
        kind = type(child)
        if kind is dict or kind is list:
            below = _members(child, allowed - 1)
            if below < 0:
                return -1
            count += below
    return count


# A key's closing quote, then optional JSON whitespace and the name separator. In JSON that orjson
# accepted, every object member has exactly one such match (its key); a ``"`` followed by ``:`` can
# otherwise only open a string that begins with a colon (after spaces), or be an escaped quote inside one.
_KEY_END = re.compile(rb'"[ \t\n\r]*:')


def loads(body: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a JSON body; 400 for malformed JSON or nesting deeper than ``max_depth``."""
    if not body:
        raise BadRequest("The request body is empty")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if type(value) is not dict and type(value) is not list:
        return value
    members = _members(value, max_depth)
    if members < 0:
        raise BadRequest(f"The JSON is nested more than {max_depth} levels deep")
    # A key named twice in one object is kept once, so the parsed objects then hold fewer members than
    # the body names. The body names at least as many as it has (``_KEY_END``), so equal counts mean
    # no duplicate, and anything else is settled by the exact (and slower) second parse.
    if members != len(_KEY_END.findall(body)):
        _refuse_duplicate_keys(body)
    return value


class _DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return found


def _refuse_duplicate_keys(body: bytes) -> None:
    """400 when an object names a key twice: JSON parsers keep one of the two silently (orjson the last),
    so what we store could differ from what a client, a proxy or a signature checked. A second parse with
    the standard library (about 1.7 times orjson's time), after orjson has vouched for the body: only
    when `loads`' count of the body's keys does not match the members parsed."""
    try:
        json.loads(body, object_pairs_hook=_unique)
    except _DuplicateKey as exc:
        raise BadRequest(f"A JSON object names the key {str(exc)[:60]!r} more than once") from None


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


class FhirResponse(Response):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)
