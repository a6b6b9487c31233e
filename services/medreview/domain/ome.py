"""OME for the medication review: the one engine lives in :mod:`shared.medicines.ome` (names re-exported)."""

from shared.medicines.ome import (
    INACTIVE_STATUSES,
    MedicationOme,
    OmeReason,
    OmeResult,
    medication_ome,
    oral_morphine_equivalent,
)

__all__ = [
    "INACTIVE_STATUSES",
    "MedicationOme",
    "OmeReason",
    "OmeResult",
    "medication_ome",
    "oral_morphine_equivalent",
]
