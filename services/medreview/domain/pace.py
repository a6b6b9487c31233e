"""How fast a taper goes by default: long-term use, read from the record. Pure.

docs/domain/reference-facts.md (UK practice guidance): 10% of the starting dose every 2 weeks; 10% a month or
slower after a year or more of use. How long opioids have been used is taken from the record: the earliest
date any opioid prescription or course in the patient's medicines says it was written or started (stopped
ones count: they are earlier use), unless a clinician says otherwise (``longTermUse`` on ``$propose-taper``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from services.medreview.fhir_mapping.codes import MEDICATION_SOURCE, SOURCE_MEDREVIEW
from shared.medicines.identify import identify_medication
from shared.terminology import DrugClass, ProductCatalogue

__all__ = ["LONG_TERM_DAYS", "first_opioid_use", "is_long_term"]

LONG_TERM_DAYS = 365
"""A year or more of use makes the default pace monthly."""


def _ours(resource: Mapping[str, Any]) -> bool:
    tags = (resource.get("meta") or {}).get("tag") or []
    return any(t.get("system") == MEDICATION_SOURCE and t.get("code") == SOURCE_MEDREVIEW for t in tags)


def _dates(resource: Mapping[str, Any]) -> list[date]:
    found = [resource.get("authoredOn"), resource.get("effectiveDateTime")]
    found.append((resource.get("effectivePeriod") or {}).get("start"))
    days = []
    for text in found:
        if isinstance(text, str) and len(text) >= 10:
            try:
                days.append(date.fromisoformat(text[:10]))
            except ValueError:
                continue
    return days


def first_opioid_use(
    resources: Sequence[Mapping[str, Any]],
    catalogue: ProductCatalogue,
    medications: Mapping[str, Mapping[str, Any]] | None = None,
) -> date | None:
    """The earliest date an opioid MedicationRequest or MedicationStatement of the record was written or
    started (the service's own proposals and orders left out); ``None`` when none says."""
    earliest: date | None = None
    for resource in resources:
        if resource.get("resourceType") not in ("MedicationRequest", "MedicationStatement") or _ours(
            resource
        ):
            continue
        identified = identify_medication(resource, catalogue, medications=medications)
        if identified.drug_class is not DrugClass.OPIOID:
            continue
        for day in _dates(resource):
            earliest = day if earliest is None or day < earliest else earliest
    return earliest


def is_long_term(first_use: date | None, on: date) -> bool:
    """Use for a year or more by ``on``."""
    return first_use is not None and on - first_use >= timedelta(days=LONG_TERM_DAYS)
