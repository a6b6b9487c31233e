"""``medreview.completed`` for the monthly MDT agenda: each review's total daily OME and risk flags.

Runs in the inbox transaction of the ``careplan-mdt`` consumer (applied once per event; a review is also
kept once by its Observation). The data (docs/EVENTS.md) is a Bundle of the total OME Observation
(``valueQuantity`` mg/d, ``comparator: ">="`` when an opioid's dose was not computable) and the review's
DetectedIssues (codes of medreview's ``medreview-risk``).
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from sqlalchemy import Connection

from services.careplan.repository_sessions import record_medication_review
from shared.contracts import CloudEvent
from shared.fhir import carried_resources, parse_instant

__all__ = ["RISK_SYSTEM", "medication_review_for_mdt"]

log = logging.getLogger(__name__)

RISK_SYSTEM = "https://pain-review.example.org/fhir/CodeSystem/medreview-risk"
_MG_PER_DAY = {"mg/d", "mg/(24.h)", "mg/day"}


def medication_review_for_mdt(conn: Connection, event: CloudEvent) -> None:
    observations = [
        o
        for o in carried_resources(event.data, "Observation")
        if _MG_PER_DAY
        & {(o.get("valueQuantity") or {}).get("code"), (o.get("valueQuantity") or {}).get("unit")}
    ]
    if not observations:
        log.info("medreview.completed without a total OME Observation: nothing for the MDT")
        return
    observation = observations[0]
    patient = (observation.get("subject") or {}).get("reference")
    if not isinstance(patient, str) or not patient.startswith("Patient/"):
        log.info("medreview.completed about no patient: nothing for the MDT")
        return
    quantity = observation.get("valueQuantity") or {}
    try:
        total: Decimal | None = Decimal(str(quantity["value"]))
    except (KeyError, InvalidOperation):
        total = None
    flags = {
        str(c["code"])
        for issue in carried_resources(event.data, "DetectedIssue")
        for c in (issue.get("code") or {}).get("coding") or ()
        if c.get("system") == RISK_SYSTEM and c.get("code")
    }
    when_text = observation.get("effectiveDateTime") or observation.get("issued")
    try:
        when = parse_instant(when_text) if isinstance(when_text, str) else event.time
    except ValueError:
        when = event.time
    record_medication_review(
        conn,
        practice=event.practice,
        patient=patient,
        review=f"Observation/{observation.get('id') or event.id}",
        reviewed_at=when,
        total=total,
        lower_bound=bool(quantity.get("comparator")),
        flags=flags,
    )
