"""Keeping each enrolled patient's medication list: ``patient.enrolled`` and ``medication.list-synced``.

The list is stored as the event carried it (R4 MedicationRequest / MedicationStatement / Medication,
their ids kept so that ``prescription.changed`` names the GP record's own MedicationRequest), under the
event's practice, and indexed by a ``List`` (code ``medications``, ``date`` the event's time). Rules:

* a GP-record sync replaces the list: what the new list no longer holds is deleted (soft: kept in history),
  what it still holds gets a new version;
* the list received with the referral (``patient.enrolled``) only fills a list the GP record has not given
  yet: the GP record is the more complete source;
* an event older than the list already stored changes nothing (events of two producers may arrive out of
  order);
* an id that belongs to another patient or practice (a GP system reusing ids) is given a stable new id, and
  references to it in the same list follow.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.medreview.domain.medication_list import reference, resources_from_bundle
from services.medreview.fhir_mapping.codes import (
    MEDICATION_LIST_CODE,
    MEDICATION_SOURCE,
    SOURCE_GP_RECORD,
    SOURCE_REFERRAL,
    source_tag,
)
from services.medreview.repository import repository
from services.medreview.workflow.reconcile import reconcile_gp_record
from shared.contracts import CloudEvent
from shared.fhir import UnitOfWork, format_instant, parse_instant, record_enrolment_event

__all__ = ["on_medication_list_synced", "on_patient_enrolled", "store_medication_list"]

LISTED_TYPES = ("Medication", "MedicationRequest", "MedicationStatement")
_ID_NAMESPACE = uuid.UUID("6f0d3a52-7a57-4d7e-9d55-0c1f3c5a7e11")
_TITLES = {
    SOURCE_GP_RECORD: "Medication list read from the GP record",
    SOURCE_REFERRAL: "Medication list received with the referral",
}


def on_patient_enrolled(s: UnitOfWork, event: CloudEvent) -> None:
    """``patient.enrolled``: keep the referral's medication list unless the GP record's is here already."""
    record_enrolment_event(s.conn, practice=event.practice, data=event.data, at=event.time)
    store_medication_list(s, event.data, source=SOURCE_REFERRAL, listed_at=event.time)


def on_medication_list_synced(s: UnitOfWork, event: CloudEvent) -> None:
    """``medication.list-synced``: the GP record's list replaces the one stored; after a write-back (the
    record is read again each time) it is reconciled with the patient's taper (``reconcile``)."""
    stored = store_medication_list(s, event.data, source=SOURCE_GP_RECORD, listed_at=event.time)
    if stored is not None:
        patient = str(stored["subject"]["reference"])
        reconcile_gp_record(s, patient, resources_from_bundle(event.data), event.time)


def _patient(resources: Sequence[Mapping[str, Any]]) -> str | None:
    for resource in resources:
        if resource.get("resourceType") == "Patient" and resource.get("id"):
            return f"Patient/{resource['id']}"
    for resource in resources:
        ref = str((resource.get("patient") or resource.get("subject") or {}).get("reference", ""))
        if ref.startswith("Patient/"):
            return ref
    return None


def _source(listing: Mapping[str, Any]) -> str | None:
    tags = (listing.get("meta") or {}).get("tag") or []
    return next((str(t["code"]) for t in tags if t.get("system") == MEDICATION_SOURCE), None)


def _listed_at(listing: Mapping[str, Any]) -> datetime | None:
    text = listing.get("date")
    return parse_instant(str(text)) if text else None


def store_medication_list(
    s: UnitOfWork, bundle: Mapping[str, Any], *, source: str, listed_at: datetime
) -> dict[str, Any] | None:
    """Store one patient's medication list from an event Bundle (rules in the module doc); the List, or
    ``None`` when the event changes nothing."""
    resources = resources_from_bundle(bundle)
    patient = _patient(resources)
    if patient is None:
        raise ValueError("the event's Bundle names no patient")
    current = repository(s).medication_list(s.conn, patient, s.tenants)
    if current is not None:
        if source == SOURCE_REFERRAL and _source(current) == SOURCE_GP_RECORD:
            return None
        stored_at = _listed_at(current)
        if stored_at is not None and stored_at > listed_at:
            return None
    medicines = [r for r in resources if r.get("resourceType") in LISTED_TYPES and r.get("id")]
    previous = {str(e.get("item", {}).get("reference", "")) for e in (current or {}).get("entry") or []}
    medicines = _own_ids(s, patient, medicines, previous)
    kept = {reference(r) for r in medicines}
    for old in sorted(previous):
        if old not in kept and repository(s).find(s.conn, old, s.tenants) is not None:
            s.delete(old)
    for medicine in medicines:
        meta = dict(medicine.get("meta") or {})
        tags = [t for t in meta.get("tag") or [] if t.get("system") != MEDICATION_SOURCE]
        medicine["meta"] = {**meta, "tag": [*tags, source_tag(source)]}
        s.update(medicine)
    listing = _listing(patient, medicines, source, listed_at)
    if current is not None:
        listing["id"] = current["id"]
        return s.update(listing)
    return s.create(listing)


def _listing(
    patient: str, medicines: Sequence[Mapping[str, Any]], source: str, listed_at: datetime
) -> dict[str, Any]:
    listing: dict[str, Any] = {
        "resourceType": "List",
        "meta": {"tag": [source_tag(source)]},
        "status": "current",
        "mode": "snapshot",
        "title": _TITLES[source],
        "code": MEDICATION_LIST_CODE,
        "subject": {"reference": patient},
        "date": format_instant(listed_at),
    }
    if medicines:
        listing["entry"] = [{"item": {"reference": reference(m)}} for m in medicines]
    else:
        listing["emptyReason"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                    "code": "nilknown",
                    "display": "Nil Known",
                }
            ]
        }
    return listing


def _own_ids(
    s: UnitOfWork, patient: str, medicines: list[dict[str, Any]], previous: set[str]
) -> list[dict[str, Any]]:
    """Give a new, stable id to any resource whose id another patient or practice already uses (a
    Medication has no patient: it is the patient's own when their previous list held it)."""
    renamed: dict[str, str] = {}
    for medicine in medicines:
        owner = repository(s).owner_of(s.conn, medicine["resourceType"], medicine["id"])
        ours = owner is None or owner == (s.practice, patient)
        ours = ours or (owner is not None and owner[0] == s.practice and reference(medicine) in previous)
        if not ours:
            key = f"{s.practice}|{patient}|{medicine['resourceType']}|{medicine['id']}"
            new_id = str(uuid.uuid5(_ID_NAMESPACE, key))
            renamed[f"{medicine['resourceType']}/{medicine['id']}"] = f"{medicine['resourceType']}/{new_id}"
            medicine["id"] = new_id
    if not renamed:
        return medicines
    return [_renamed(m, renamed) for m in medicines]


def _renamed(node: Any, names: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: names.get(v, v) if k == "reference" and isinstance(v, str) else _renamed(v, names)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_renamed(item, names) for item in node]
    return node
