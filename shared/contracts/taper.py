"""Reading the data of the four taper events (``taper.proposed|approved|declined|paused`` v1).

Their data is a Bundle of the taper CarePlan and its steps' MedicationRequests; before the Bundle
(cpl-3) it was the CarePlan alone, or for a decline the approval Task. Producer (medreview) and
consumer (careplan) read it with the same function, so the two forms are understood the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["REPLACES_AUTHORISATION_URL", "REPLACES_PRESCRIPTION_URL", "step_status", "taper_parts"]

REPLACES_PRESCRIPTION_URL = "https://pain-review.example.org/fhir/StructureDefinition/replaces-prescription"
"""On an order in ``prescription.changed``: each prescription it replaces (``valueReference``, medreview's
references), when a step's orders (one per strength) replace several."""
REPLACES_AUTHORISATION_URL = "https://pain-review.example.org/fhir/StructureDefinition/replaces-authorisation"
"""On an order as written to the GP system: each of the GP system's own authorisations it replaces
(``valueReference`` ``MedicationRequest/<the GP's id>``)."""

# A step's MedicationRequest status as the CarePlan activity status of that step.
_STEP_STATUS = {
    "draft": "not-started",
    "active": "not-started",
    "on-hold": "on-hold",
    "completed": "completed",
    "cancelled": "cancelled",
    "stopped": "cancelled",
    "entered-in-error": "entered-in-error",
}


def taper_parts(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Mapping[str, Any]]]:
    """The taper CarePlan (or, in the form before the Bundle, the resource sent alone) and the
    MedicationRequests by ``MedicationRequest/<id>`` of a taper event's data.

    Raises ``ValueError`` for a Bundle without a CarePlan.
    """
    if data.get("resourceType") != "Bundle":
        return data, {}
    resources = [e["resource"] for e in data.get("entry") or [] if isinstance(e.get("resource"), Mapping)]
    plan = next((r for r in resources if r.get("resourceType") == "CarePlan"), None)
    if plan is None:
        raise ValueError("the taper event's Bundle holds no CarePlan")
    requests = {
        f"MedicationRequest/{r['id']}": r
        for r in resources
        if r.get("resourceType") == "MedicationRequest" and r.get("id")
    }
    return plan, requests


def step_status(request: Mapping[str, Any]) -> str:
    """The CarePlan activity status a step's MedicationRequest stands for (``unknown`` if none does)."""
    return _STEP_STATUS.get(str(request.get("status")), "unknown")
