"""STU3 ``Dosage`` to R4 ``Dosage``: the dose and rate move into ``doseAndRate``; the rest keeps its shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.gpconnect.fhir_mapping.common import JsonObject, copy_fields

__all__ = ["map_dosage"]

_SAME = (
    "sequence",
    "text",
    "additionalInstruction",
    "patientInstruction",
    "timing",
    "asNeededBoolean",
    "asNeededCodeableConcept",
    "site",
    "route",
    "method",
    "maxDosePerPeriod",
    "maxDosePerAdministration",
    "maxDosePerLifetime",
)
_DOSE = ("doseQuantity", "doseRange")
_RATE = ("rateRatio", "rateRange", "rateQuantity")


def map_dosage(dosage: Mapping[str, Any]) -> JsonObject:
    """One R4 Dosage from one STU3 Dosage.

    A text-only dosage ("One to be taken each morning") stays text-only: structured dose and timing are
    never invented from the text; the medication review parses the text itself.
    """
    mapped = copy_fields(dosage, _SAME)
    dose_and_rate = copy_fields(dosage, (*_DOSE, *_RATE))
    if dose_and_rate:
        mapped["doseAndRate"] = [dose_and_rate]
    return mapped
