"""Search requests: parse FHIR query parameters into a plan the store turns into SQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.core.errors import BadRequest
from shared.fhir.searchparams import SearchParam, SearchParams, date_range

__all__ = ["Criterion", "SearchRequest", "parse_search"]

DATE_PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge", "sa", "eb")
RESULT_PARAMS = frozenset(
    {"_count", "_offset", "_sort", "_include", "_revinclude", "_total", "_summary", "_format", "_pretty"}
)
SORTABLE = frozenset({"_lastUpdated", "-_lastUpdated", "_id", "-_id"})

# Every count a query can make the server work through is bounded before it is used (a 400 beyond).
MAX_OFFSET = 100_000
MAX_PARAMETERS = 50
MAX_VALUES = 100  # alternatives of one parameter (a,b,c...)
MAX_TOTAL_VALUES = 300  # over every parameter: what the SQL binds
MAX_INCLUDES = 10  # _include and _revinclude together
MAX_VALUE_LENGTH = 8_000


@dataclass(frozen=True)
class Criterion:
    """One parameter occurrence: the values are OR-ed; criteria are AND-ed."""

    param: SearchParam
    modifier: str | None
    values: tuple[tuple[str, str | None, str], ...]  # (prefix-or-op, system, value)


@dataclass
class SearchRequest:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    count: int = 20
    offset: int = 0
    sort: str = "-_lastUpdated"
    includes: list[tuple[str, str, str | None]] = field(default_factory=list)  # (source, param, target)
    revincludes: list[tuple[str, str, str | None]] = field(default_factory=list)
    summary_count: bool = False
    dropped: list[tuple[str, str]] = field(default_factory=list)
    """Under ``handling=lenient``: each parameter left out, and why (``(key, diagnostics)``)."""


def _split_values(raw: str) -> list[str]:
    # Commas separate alternatives; "\," is a literal comma.
    parts, current, escaped = [], [], False
    for char in raw:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part != ""]


# The modifiers the SQL (``search_sql.index_clause``) implements, per parameter type: every other one is
# refused (or, under ``Prefer: handling=lenient``, dropped and reported), never ignored. The string index
# is kept in lower case, so ``:exact`` (case-sensitive in R4) cannot be served and is refused too.
MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset({"contains"}),
    "token": frozenset(),
    "reference": frozenset(),
    "date": frozenset(),
}


class Unsupported(BadRequest):
    """A parameter or modifier this server does not serve: a 400 unless the search is lenient."""

    issue_code = "not-supported"


def _check_modifier(param: SearchParam, modifier: str | None) -> None:
    if modifier is None or modifier in MODIFIERS[param.type]:
        return
    served = sorted(MODIFIERS[param.type])
    offer = f"; supported: {', '.join(':' + m for m in served)}" if served else "; it takes no modifier"
    raise Unsupported(
        f"The modifier ':{modifier[:40]}' is not supported for the {param.type} parameter"
        f" '{param.name}'{offer}"
    )


def _parse_value(param: SearchParam, modifier: str | None, raw: str) -> tuple[str, str | None, str]:
    if param.type == "token":
        if "|" in raw:
            system, code = raw.split("|", 1)
            return ("eq", system or "", code)
        return ("eq", None, raw)
    if param.type == "date":
        prefix = raw[:2] if raw[:2] in DATE_PREFIXES else "eq"
        text = raw[2:] if raw[:2] in DATE_PREFIXES else raw
        if date_range(text) is None:
            raise BadRequest(f"'{raw}' is not a valid date for the search parameter '{param.name}'")
        return (prefix, None, text)
    if param.type == "string":
        return (modifier or "starts", None, raw.lower())
    return ("eq", None, raw)  # reference


def _parse_int(name: str, raw: str, lowest: int, highest: int) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(highest))):
        raise BadRequest(f"{name} must be a whole number from {lowest} to {highest}")
    number = int(text)
    if not lowest <= number <= highest:
        raise BadRequest(f"{name} must be a whole number from {lowest} to {highest}")
    return number


def _parse_include(raw: str, name: str, params: SearchParams, searched: str) -> tuple[str, str, str | None]:
    parts = raw.split(":")
    if len(parts) not in (2, 3):
        raise BadRequest(f"{name} must look like 'Type:param' or 'Type:param:Target'")
    source, param = parts[0], parts[1]
    if name == "_include" and source != searched:
        # It would follow references of resources this search does not return: nothing to include.
        raise BadRequest(
            f"_include={raw}: an _include follows a parameter of the searched type, {searched}"
            f" (to add the {source}s that refer to the matches, use _revinclude={raw})"
        )
    declared = params.of(source)
    if param not in declared or declared[param].type != "reference":
        raise BadRequest(f"{name}={raw}: '{param}' is not a reference parameter of {source}")
    return (source, param, parts[2] if len(parts) == 3 else None)


def parse_search(
    resource_type: str,
    items: Iterable[tuple[str, str]],
    *,
    params: SearchParams,
    default_count: int,
    max_count: int,
    lenient: bool = False,
) -> SearchRequest:
    """Turn query items into a ``SearchRequest`` against the ``params`` a kernel declares; an unknown
    parameter or an unsupported modifier is a 400, never ignored. With ``lenient`` (``Prefer:
    handling=lenient``, R4 search.html#errors) they are left out instead and listed in ``dropped``;
    a value that cannot be read is still a 400."""
    request = SearchRequest(resource_type, count=default_count)
    known = params.of(resource_type)
    items = list(items)
    if len(items) > MAX_PARAMETERS:
        raise BadRequest(f"A search takes at most {MAX_PARAMETERS} parameters")
    if sum(1 for key, _ in items if key in ("_include", "_revinclude")) > MAX_INCLUDES:
        raise BadRequest(f"A search takes at most {MAX_INCLUDES} _include and _revinclude parameters")
    bound = 0
    for key, raw in items:
        if len(raw) > MAX_VALUE_LENGTH:
            raise BadRequest(f"The value of '{key[:40]}' is longer than {MAX_VALUE_LENGTH} characters")
        try:
            bound = _parse_item(request, key, raw, known, params, max_count, bound)
        except Unsupported as exc:
            if not lenient:
                raise
            request.dropped.append((key, exc.diagnostics))
    return request


def _parse_item(
    request: SearchRequest,
    key: str,
    raw: str,
    known: dict[str, SearchParam],
    params: SearchParams,
    max_count: int,
    bound: int,
) -> int:
    """Add one query item to ``request``; returns ``bound``, the values bound in the SQL so far, with
    this item's (``Unsupported`` when it is a parameter or modifier this server does not serve)."""
    name, _, modifier = key.partition(":")
    if name in RESULT_PARAMS:
        if modifier:
            raise Unsupported(f"The modifier ':{modifier[:40]}' is not supported for '{name}'")
        _parse_result_param(request, name, raw, params, max_count)
        return bound
    param = known.get(name)
    if param is None:
        supported = ", ".join(sorted(known))
        raise Unsupported(
            f"Unknown search parameter '{name[:40]}' for {request.resource_type}; supported: {supported}"
        )
    _check_modifier(param, modifier or None)
    values = _split_values(raw)
    if not values:
        raise BadRequest(f"The search parameter '{name}' has no value")
    if len(values) > MAX_VALUES:
        raise BadRequest(f"The search parameter '{name}' takes at most {MAX_VALUES} values")
    bound += len(values)
    if bound > MAX_TOTAL_VALUES:
        raise BadRequest(f"A search takes at most {MAX_TOTAL_VALUES} values over all its parameters")
    parsed = tuple(_parse_value(param, modifier or None, value) for value in values)
    request.criteria.append(Criterion(param, modifier or None, parsed))
    return bound


def _parse_result_param(
    request: SearchRequest, key: str, raw: str, params: SearchParams, max_count: int
) -> None:
    if key == "_count":
        request.count = min(_parse_int("_count", raw, 0, 10**9), max_count)
    elif key == "_offset":
        request.offset = _parse_int("_offset", raw, 0, MAX_OFFSET)
    elif key == "_sort":
        if raw not in SORTABLE:
            raise BadRequest(f"_sort={raw} is not supported; use one of {sorted(SORTABLE)}")
        request.sort = raw
    elif key == "_include":
        request.includes.append(_parse_include(raw, "_include", params, request.resource_type))
    elif key == "_revinclude":
        request.revincludes.append(_parse_include(raw, "_revinclude", params, request.resource_type))
    elif key == "_summary":
        if raw != "count":
            raise BadRequest("Only _summary=count is supported")
        request.summary_count = True
