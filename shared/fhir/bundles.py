"""Bundles the kernel returns: searchset and history, with ``total`` and paging links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from shared.core.errors import UKCORE_OUTCOME_PROFILE
from shared.fhir.store import SearchResult, StoredVersion, new_id, now_instant
from shared.fhir.values import format_instant

__all__ = ["history_bundle", "searchset_bundle", "with_dropped"]


def _link(url: str, items: list[tuple[str, str]], offset: int, count: int) -> str:
    kept = [(k, v) for k, v in items if k not in ("_offset", "_count")]
    return f"{url}?{urlencode([*kept, ('_count', str(count)), ('_offset', str(offset))])}"


def _paging(
    url: str, items: list[tuple[str, str]], total: int, offset: int, count: int
) -> list[dict[str, str]]:
    links = [{"relation": "self", "url": _link(url, items, offset, count)}]
    if count <= 0:
        return links
    links.append({"relation": "first", "url": _link(url, items, 0, count)})
    if offset > 0:
        links.append({"relation": "previous", "url": _link(url, items, max(offset - count, 0), count)})
    if offset + count < total:
        links.append({"relation": "next", "url": _link(url, items, offset + count, count)})
    last = max(((total - 1) // count) * count, 0)
    links.append({"relation": "last", "url": _link(url, items, last, count)})
    return links


def _timestamp() -> str:
    return format_instant(now_instant(), "milliseconds")


def searchset_bundle(
    base: str, url: str, items: list[tuple[str, str]], result: SearchResult, offset: int, count: int
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
        for r in result.resources
    ]
    entries += [
        {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "include"}}
        for r in result.included
    ]
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": _timestamp()},
        "type": "searchset",
        "timestamp": _timestamp(),
        "total": result.total,
        "link": _paging(url, items, result.total, offset, count),
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def with_dropped(bundle: dict[str, Any], dropped: list[tuple[str, str]]) -> dict[str, Any]:
    """A lenient search's Bundle with an OperationOutcome entry (``search.mode`` ``outcome``) naming
    each parameter it left out and why (R4 search.html#errors); unchanged when none was."""
    if not dropped:
        return bundle
    outcome_id = new_id()
    outcome = {
        "resourceType": "OperationOutcome",
        "id": outcome_id,
        "meta": {"profile": [UKCORE_OUTCOME_PROFILE]},
        "issue": [
            {
                "severity": "warning",
                "code": "not-supported",
                "diagnostics": f"Ignored under Prefer: handling=lenient: {why}",
                "expression": [f"http.{key[:80]}"],
            }
            for key, why in dropped
        ],
    }
    entry = {"fullUrl": f"urn:uuid:{outcome_id}", "resource": outcome, "search": {"mode": "outcome"}}
    return {**bundle, "entry": [*bundle.get("entry", []), entry]}


def history_bundle(
    base: str,
    url: str,
    items: list[tuple[str, str]],
    total: int,
    versions: list[StoredVersion],
    offset: int,
    count: int,
) -> dict[str, Any]:
    entries = []
    for version in versions:
        resource = version.resource
        full_url = f"{base}/{resource['resourceType']}/{resource['id']}"
        entry: dict[str, Any] = {
            "fullUrl": full_url,
            "request": {"method": version.method, "url": f"{resource['resourceType']}/{resource['id']}"},
            "response": {
                "status": "410 Gone"
                if version.deleted
                else ("201 Created" if version.method == "POST" or version.version_id == 1 else "200 OK"),
                "etag": f'W/"{version.version_id}"',
                "lastModified": version.last_updated,
            },
        }
        if not version.deleted:
            entry["resource"] = resource
        entries.append(entry)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": _timestamp()},
        "type": "history",
        "timestamp": _timestamp(),
        "total": total,
        "link": _paging(url, items, total, offset, count),
    }
    if entries:
        bundle["entry"] = entries
    return bundle
