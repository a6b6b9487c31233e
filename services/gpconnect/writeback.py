"""A prescription change as the GP system must see it: naming the GP system's own authorisation as the one
it replaces. Pure.

medreview's ``prescription.changed`` Bundle holds the new order (``priorPrescription`` what it replaces) and
the replaced prescription. What it replaces is either a prescription read from the GP record over GP Connect
(the GP's id kept, and the GP's own ``identifier``), or medreview's order of the step before, which the GP
system knows only by the id it gave the authorisation it created when that order was written back. The
second is looked up (``repository.gp_authorisation_of``); until that order is in the GP record the change
waits (a later step is never written before the one it follows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.gpconnect.adapters import NotReady, PermanentDeliveryError
from services.gpconnect.adapters.gpconnect_fhir import new_prescription

__all__ = ["OURS", "gp_authorisation", "is_ours", "naming_gp_authorisation", "replaced", "replaced_reference"]

OURS = "https://pain-review.example.org/"
"""The base of every system and code system this service defines: identifiers under it are not the GP's."""


def _resources(change: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if change.get("resourceType") != "Bundle":
        return [change]
    return [e.get("resource") or {} for e in change.get("entry", ())]


def replaced_reference(change: Mapping[str, Any]) -> str:
    """``MedicationRequest/<id>`` the change's new prescription replaces; a change that replaces nothing is
    refused (a taper step always changes a prescription the patient has)."""
    new = new_prescription(dict(change))
    reference = str((new.get("priorPrescription") or {}).get("reference") or "")
    if not reference.startswith("MedicationRequest/") or reference == "MedicationRequest/":
        raise PermanentDeliveryError("the prescription change names no prescription it replaces")
    return reference


def replaced(change: Mapping[str, Any], reference: str) -> Mapping[str, Any] | None:
    """The replaced prescription as the Bundle carries it."""
    return next(
        (
            r
            for r in _resources(change)
            if r.get("resourceType") == "MedicationRequest"
            and f"MedicationRequest/{r.get('id')}" == reference
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


def gp_authorisation(change: Mapping[str, Any], written: str | None) -> str:
    """The GP system's id of the authorisation the change replaces.

    ``written``: the GP's id for the replaced prescription when it is an order of ours written back earlier.
    Otherwise the replaced prescription was read from the GP record: its GP identifier, else its id (the
    GP's, kept). An order of ours not yet written back: ``NotReady`` (retried until it is).
    """
    reference = replaced_reference(change)
    if written:
        return written
    resource = replaced(change, reference)
    if resource is not None and (found := _gp_identifier(resource)):
        return found
    if resource is not None and is_ours(resource):
        raise NotReady("the prescription change it follows is not in the GP record yet")
    return reference.removeprefix("MedicationRequest/")


def naming_gp_authorisation(change: Mapping[str, Any], gp_id: str) -> dict[str, Any]:
    """The change with its new prescription's ``priorPrescription`` naming the GP's authorisation ``gp_id``
    (and the replaced entry carrying that id), as the adapters send it."""
    reference = replaced_reference(change)
    target = f"MedicationRequest/{gp_id}"

    def fix(resource: Mapping[str, Any]) -> dict[str, Any]:
        fixed = dict(resource)
        if str((fixed.get("priorPrescription") or {}).get("reference") or "") == reference:
            fixed["priorPrescription"] = {"reference": target}
        return fixed

    if change.get("resourceType") != "Bundle":
        return fix(change)
    entries = [
        {**e, "resource": fix(e["resource"])} if isinstance(e.get("resource"), dict) else dict(e)
        for e in change.get("entry", ())
    ]
    return {**change, "entry": entries}
