"""Which of a patient's medication resources describe what they take now: pure rules over R4 dicts.

GP Connect (and UK Core) record one course of a medicine several times: a MedicationStatement (the course),
a MedicationRequest with ``intent`` plan (the GP's authorisation) and one MedicationRequest with ``intent``
order per issue, ``basedOn`` the authorisation. Counting each would double or triple the dose. So:

1. only MedicationRequest and MedicationStatement count; a MedicationRequest that is only a proposal or an
   option, or that says ``doNotPerform``, prescribes nothing and is left out;
2. a resource that another one replaces (its ``priorPrescription``) is left out;
3. a resource ``basedOn`` another prescription of the list is left out, whether that one counts or not:
   the issues of an authorisation and the statement of an authorised course are the authorisation's own
   record (and go with it when it is stopped or replaced).

Statuses (stopped, completed...) are left to the OME calculator, which reports what it left out.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.core.values import parse_instant

__all__ = [
    "MEDICATION_TYPES",
    "by_type",
    "in_list_order",
    "medications_index",
    "orders_in_force",
    "reference",
    "regimen_resources",
    "resources_from_bundle",
]

MEDICATION_TYPES = frozenset({"MedicationRequest", "MedicationStatement"})
NOT_PRESCRIPTIONS = frozenset({"proposal", "option"})


def reference(resource: Mapping[str, Any]) -> str | None:
    """``Type/id`` of a resource with an id."""
    return f"{resource['resourceType']}/{resource['id']}" if resource.get("id") else None


def _targets(resource: Mapping[str, Any], key: str) -> list[str]:
    value = resource.get(key)
    items = value if isinstance(value, list) else [value]
    return [str(i["reference"]) for i in items if isinstance(i, dict) and i.get("reference")]


def in_list_order(resources: Sequence[Mapping[str, Any]], listed: Sequence[str]) -> list[Mapping[str, Any]]:
    """``resources`` in the medication list's order (``listed``: its entries' references): a listed one at its
    entry's place, an order replacing prescriptions (``priorPrescription``, over any chain of orders) at the
    place of what it replaces, the rest after them as given. The taper reduces opioids in this order when the
    patient names none (it came in the store's order: the one listed last was reduced first)."""
    at = {ref: i for i, ref in enumerate(listed)}
    by_ref = {ref: r for r in resources if (ref := reference(r))}

    def place(resource: Mapping[str, Any], seen: frozenset[str]) -> int:
        ref = reference(resource) or ""
        if ref in at:
            return at[ref]
        places = [
            place(by_ref[p], seen | {ref}) if p in by_ref and p not in seen else at.get(p, len(listed))
            for p in _targets(resource, "priorPrescription")
        ]
        return min(places, default=len(listed))

    return sorted(resources, key=lambda r: place(r, frozenset()))


def regimen_resources(resources: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The MedicationRequests and MedicationStatements that describe what is taken (module doc's rules)."""
    candidates = [
        dict(r)
        for r in resources
        if r.get("resourceType") in MEDICATION_TYPES
        and not (r.get("resourceType") == "MedicationRequest" and r.get("intent") in NOT_PRESCRIPTIONS)
        and not r.get("doNotPerform")
    ]
    replaced = {t for r in candidates for t in _targets(r, "priorPrescription")}
    prescriptions = {reference(r) for r in candidates}
    return [
        r
        for r in candidates
        if reference(r) not in replaced and not any(t in prescriptions for t in _targets(r, "basedOn"))
    ]


def medications_index(resources: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Medication resources by ``Medication/id``, to resolve ``medicationReference``."""
    return {
        f"Medication/{r['id']}": dict(r)
        for r in resources
        if r.get("resourceType") == "Medication" and r.get("id")
    }


def orders_in_force(orders: Iterable[Mapping[str, Any]], listed_at: datetime | None) -> list[dict[str, Any]]:
    """medreview's own GP-approved orders that the GP record has not caught up with yet.

    A medication list read from the GP record at ``listed_at`` already holds every prescription change written
    back before then, so only orders authored after it still add to (or replace in) the list, and orders
    dated after the day it was read: a change is written to the GP record on its date, not when approved.
    """
    kept = []
    for order in orders:
        authored = order.get("authoredOn")
        start = ((order.get("dispenseRequest") or {}).get("validityPeriod") or {}).get("start")
        not_written = (
            isinstance(start, str) and listed_at is not None and start[:10] > listed_at.date().isoformat()
        )
        if (
            listed_at is None
            or not isinstance(authored, str)
            or parse_instant(authored) >= listed_at
            or not_written
        ):
            kept.append(dict(order))
    return kept


def resources_from_bundle(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of a Bundle (copies), with ``urn:uuid:`` references turned into ``Type/id``.

    An entry whose resource has no id takes the uuid of its ``urn:uuid:`` fullUrl, as docs/EVENTS.md allows
    either form; references to entries that cannot be named stay as they are.
    """
    entries = [
        e for e in bundle.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    resources: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for entry in entries:
        resource = copy.deepcopy(entry["resource"])
        full_url = str(entry.get("fullUrl") or "")
        if not resource.get("id") and full_url.startswith("urn:uuid:"):
            resource["id"] = full_url.removeprefix("urn:uuid:")
        if full_url and resource.get("id"):
            names[full_url] = f"{resource.get('resourceType')}/{resource['id']}"
        resources.append(resource)
    return [_rewrite(r, names) for r in resources] if names else resources


def _rewrite(node: Any, names: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: names.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, names)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(item, names) for item in node]
    return node


def by_type(resources: Sequence[Mapping[str, Any]], *types: str) -> list[dict[str, Any]]:
    """The resources of the given types, in order."""
    return [dict(r) for r in resources if r.get("resourceType") in types]
