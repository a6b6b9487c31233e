"""The rows the kernel store writes for a resource version, and new resources inserted many at a time.

`ResourceStore` writes one resource per call (its create, update and delete); a unit of work that
creates many resources at once (a BaRS message: twenty resources, a Task written three times, its
Provenance and AuditEvent) hands them to `insert_new` instead, which writes the same rows in three
multi-row statements: the current versions, every version into history, the search index of each
current version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert

from shared.fhir.searchparams import SearchParams, patient_of
from shared.fhir.tables import history_table, resource_table, search_index_table
from shared.fhir.values import format_instant, parse_instant

__all__ = ["NewResource", "index_rows", "insert_new", "instant", "pruned", "stamp", "version_row"]

NewResource = tuple[str, Sequence[dict[str, Any]]]
"""A new resource to insert: the owning practice and its successive versions (each from `stamp`)."""


def instant(moment: datetime) -> str:
    """A FHIR instant in UTC with milliseconds: ``meta.lastUpdated`` (an aware datetime)."""
    return format_instant(moment, "milliseconds")


def stamp(resource: dict[str, Any], version: int, moment: datetime) -> dict[str, Any]:
    """The resource as stored as ``version``: ``meta.versionId`` and ``meta.lastUpdated`` set, and no
    element without values (``pruned``)."""
    resource = pruned(resource)
    meta = {**(resource.get("meta") or {}), "versionId": str(version), "lastUpdated": instant(moment)}
    return {**resource, "meta": meta}


def pruned(node: Any) -> Any:
    """``node`` without the elements that hold no value, ``[]`` or ``{}`` (R4 JSON has neither: an element
    with no values is left out), the same object when it has none. Every version stored passes here, so no
    resource a service builds is stored with one (a request's body is refused instead: the R4 schema,
    ``jsonschema_r4``); leaving them out changes nothing a FHIR reader can see. Items of an array are kept
    (a ``_given`` array's ``null`` lines up with its ``given``)."""
    text = orjson.dumps(node)  # compact: an empty array or object is "[]" or "{}" (a few µs; the walk ~15)
    return _pruned(node) if b"[]" in text or b"{}" in text else node


def _pruned(node: Any) -> Any:
    if type(node) is dict:
        kept = {}
        for key, child in node.items():
            value = _pruned(child)
            if (type(value) is list or type(value) is dict) and not value:
                continue
            kept[key] = value
        return node if len(kept) == len(node) and all(kept[k] is node[k] for k in kept) else kept
    if type(node) is list:
        items = [_pruned(item) for item in node]
        return node if all(new is old for new, old in zip(items, node, strict=True)) else items
    return node


def _moment(resource: dict[str, Any]) -> datetime:
    return parse_instant(resource["meta"]["lastUpdated"])


def version_row(resource: dict[str, Any], practice: str, method: str, moment: datetime) -> dict[str, Any]:
    """The history row of a stamped version (the current row is the same less ``method``, plus
    ``patient``)."""
    return {
        "resource_type": resource["resourceType"],
        "id": resource["id"],
        "version_id": int(resource["meta"]["versionId"]),
        "last_updated": moment,
        "practice": practice,
        "method": method,
        "deleted": False,
        "content": orjson.dumps(resource).decode(),
    }


def index_rows(resource: dict[str, Any], params: SearchParams) -> list[dict[str, Any]]:
    """The search index rows of a resource's current version, for the ``params`` declared."""
    kind, rid = resource["resourceType"], resource["id"]
    return [
        {
            "resource_type": kind,
            "resource_id": rid,
            "param": v.param,
            "system": v.system,
            "value": v.value,
            "value_high": v.value_high,
        }
        for v in params.index_values(resource)
    ]


def insert_new(conn: Connection, resources: Iterable[NewResource], params: SearchParams) -> None:
    """Insert new resources, each with every version in history and its last one current and indexed.

    Version 1 is recorded as a POST, later ones as PUTs, each at its own ``meta.lastUpdated``: the
    rows `ResourceStore.create` and then `update` would have written, in three statements.
    """
    current: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    index: list[dict[str, Any]] = []
    for practice, versions in resources:
        for version in versions:
            method = "POST" if version["meta"]["versionId"] == "1" else "PUT"
            history.append(version_row(version, practice, method, _moment(version)))
        last = versions[-1]
        row = {**history[-1], "patient": patient_of(last)}
        del row["method"]
        current.append(row)
        index += index_rows(last, params)
    if not current:
        return
    conn.execute(insert(resource_table), current)
    conn.execute(insert(history_table), history)
    if index:
        conn.execute(insert(search_index_table), index)
