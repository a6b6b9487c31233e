"""A prescription change as the GP system must see it: naming the GP system's own authorisations as the ones
it replaces. Pure.

medreview's ``prescription.changed`` Bundle holds the new orders (a step in several strengths is one order per
strength, sharing a ``groupIdentifier``; each names what it replaces in ``priorPrescription`` and, when that
is several, the ``replaces-prescription`` extension) and the replaced prescriptions. What is replaced is
either a prescription read from the GP record over GP Connect (the GP's id kept, and the GP's own
``identifier``), or medreview's order of the step before, which the GP system knows only by the id it gave
the authorisation it created when that order was written back. The second is looked up
(``repository.gp_authorisation_of``); until that order is in the GP record the change waits (a later step is
never written before the one it follows).

Each new order is written on its own, carrying every GP authorisation the step replaces in the
``replaces-authorisation`` extension (``priorPrescription``: the first) and the step's ``groupIdentifier``:
the GP system stops those authorisations once, and accepts the step's further orders naming the ones the
first order of the same group stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.gpconnect.delivery.adapters import NotReady, PermanentDeliveryError
from shared.contracts.taper import REPLACES_AUTHORISATION_URL, REPLACES_PRESCRIPTION_URL
from shared.core.values import carried_resources

__all__ = [
    "OURS",
    "gp_authorisation",
    "gp_authorisations",
    "is_ours",
    "naming_gp_authorisation",
    "new_orders",
    "order_change",
    "replaced",
    "replaced_reference",
    "replaced_references",
]

OURS = "https://pain-review.example.org/"
"""The base of every system and code system this service defines: identifiers under it are not the GP's."""


def new_orders(change: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The change's new prescriptions (``status`` active MedicationRequests), in order: one, or one per
    strength of a step; none is refused."""
    found = [dict(r) for r in carried_resources(change, "MedicationRequest") if r.get("status") == "active"]
    if not found:
        raise PermanentDeliveryError("the prescription change carries no active MedicationRequest")
    return found


def _named(order: Mapping[str, Any]) -> list[str]:
    refs = [str((order.get("priorPrescription") or {}).get("reference") or "")]
    refs += [
        str((e.get("valueReference") or {}).get("reference") or "")
        for e in order.get("extension") or ()
        if e.get("url") == REPLACES_PRESCRIPTION_URL
    ]
    return [r for r in refs if r.startswith("MedicationRequest/") and r != "MedicationRequest/"]


def replaced_references(change: Mapping[str, Any]) -> list[str]:
    """Every ``MedicationRequest/<id>`` the change's new prescriptions replace, first named first; a change
    (or an order of it) that replaces nothing is refused (a taper step always changes a prescription the
    patient has)."""
    found: dict[str, None] = {}
    for order in new_orders(change):
        named = _named(order)
        if not named:
            raise PermanentDeliveryError("the prescription change names no prescription it replaces")
        found |= dict.fromkeys(named)
    return list(found)


def replaced_reference(change: Mapping[str, Any]) -> str:
    """The first ``MedicationRequest/<id>`` the change replaces (see :func:`replaced_references`)."""
    return replaced_references(change)[0]


def replaced(change: Mapping[str, Any], reference: str) -> Mapping[str, Any] | None:
    """The replaced prescription as the Bundle carries it."""
    return next(
        (
            r
            for r in carried_resources(change, "MedicationRequest")
            if f"MedicationRequest/{r.get('id')}" == reference
        ),
        None,
    )


def is_ours(resource: Mapping[str, Any]) -> bool:
    """A prescription medreview made (tagged with our medication-source code system), not one read from
    the GP record."""
    return any(str(t.get("system", "")).startswith(OURS) for t in (resource.get("meta") or {}).get("tag", ()))


def _gp_identifier(resource: Mapping[str, Any]) -> str | None:
    for identifier in resource.get("identifier", ()):
        system, value = str(identifier.get("system") or ""), identifier.get("value")
        if value and system and not system.startswith(OURS):
            return str(value)
    return None


def _gp_id(change: Mapping[str, Any], reference: str, written: str | None) -> str:
    if written:
        return written
    resource = replaced(change, reference)
    if resource is not None and (found := _gp_identifier(resource)):
        return found
    if resource is not None and is_ours(resource):
        raise NotReady("the prescription change it follows is not in the GP record yet")
    return reference.removeprefix("MedicationRequest/")


def gp_authorisation(change: Mapping[str, Any], written: str | None) -> str:
    """The GP system's id of the (first) authorisation the change replaces.

    ``written``: the GP's id for the replaced prescription when it is an order of ours written back earlier.
    Otherwise the replaced prescription was read from the GP record: its GP identifier, else its id (the
    GP's, kept). An order of ours not yet written back: ``NotReady`` (retried until it is).
    """
    return _gp_id(change, replaced_reference(change), written)


def gp_authorisations(change: Mapping[str, Any], written: Mapping[str, str | None]) -> list[str]:
    """The GP system's ids of every authorisation the change replaces, in :func:`replaced_references`'
    order; ``written``: the GP's id of each replaced order of ours already written back (as
    :func:`gp_authorisation`)."""
    return [_gp_id(change, ref, written.get(ref)) for ref in replaced_references(change)]


def _naming(order: Mapping[str, Any], gp_ids: Sequence[str]) -> dict[str, Any]:
    fixed = {k: v for k, v in order.items() if k != "extension"}
    fixed["priorPrescription"] = {"reference": f"MedicationRequest/{gp_ids[0]}"}
    others = [e for e in order.get("extension") or () if e.get("url") != REPLACES_PRESCRIPTION_URL]
    fixed["extension"] = [
        *others,
        *(
            {"url": REPLACES_AUTHORISATION_URL, "valueReference": {"reference": f"MedicationRequest/{gp_id}"}}
            for gp_id in gp_ids
        ),
    ]
    return fixed


def order_change(
    change: Mapping[str, Any], order: Mapping[str, Any], gp_ids: Sequence[str]
) -> dict[str, Any]:
    """The change as written for one of its new ``order``s: that order naming the GP's authorisations
    ``gp_ids`` (``priorPrescription`` the first, a ``replaces-authorisation`` extension each), with the
    replaced prescriptions and any Medication the Bundle carries; the other new orders left out."""
    if not gp_ids:
        raise PermanentDeliveryError("the prescription change names no prescription it replaces")
    if change.get("resourceType") != "Bundle":
        return _naming(order, gp_ids)
    entries = []
    for entry in change.get("entry", ()):
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "MedicationRequest" and resource.get("status") == "active":
            if resource.get("id") != order.get("id"):
                continue
            entry = {**entry, "resource": _naming(resource, gp_ids)}
        entries.append(dict(entry))
    return {**change, "entry": entries}


def naming_gp_authorisation(change: Mapping[str, Any], gp_id: str) -> dict[str, Any]:
    """The change (one new order) naming the GP's authorisation ``gp_id`` as the one it replaces, as the
    adapters send it."""
    return order_change(change, new_orders(change)[0], [gp_id])
