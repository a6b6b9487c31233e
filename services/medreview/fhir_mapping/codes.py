"""The code systems, identifiers and extensions medreview writes, in one place.

Local code systems live under ``https://pain-review.example.org/fhir`` (as the careplan service's do);
standard ones are named with their source:

* SNOMED CT 182836005 |Review of medication (procedure)| (used by HL7's own FHIR List examples)
  categorises the taper CarePlan beside the local ``careplan-category`` code ``medication-review``
  (published with the rest of that CodeSystem by careplan: services/careplan/data);
* no LOINC or SNOMED CT code for the total daily oral morphine equivalent, nor for the Subjective Opiate
  Withdrawal Scale (Handelsman L et al., Am J Drug Alcohol Abuse 1987;13(3):293-308; 16 items scored
  0-4, total 0-64) was found in the sources searched, so both are local codes of ``medreview-observation``;
* UCUM ``mg/d`` (milligram per day) and ``ug/h`` (microgram per hour) for quantities;
* HL7 ``observation-category`` ``therapy``, ``v3-ObservationInterpretation`` ``H``/``HH``,
  ``data-absent-reason`` ``unknown``, ``list-example-use-codes`` ``medications``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BASE",
    "CAREPLAN_CATEGORY",
    "EXTENSION",
    "FACTOR_TABLE_SYSTEM",
    "GP_TASK_TYPE",
    "MDT_OUTCOMES",
    "MDT_REVIEW",
    "MEDICATION_LIST_CODE",
    "MEDICATION_REVIEW",
    "MEDICATION_SOURCE",
    "OBSERVATION_CODES",
    "ODS_SYSTEM",
    "OME_REASON_SYSTEM",
    "REVIEW_CODES",
    "RISK_CODES",
    "RISK_DISPLAY",
    "SNOMED",
    "SOURCE_GP_RECORD",
    "SOURCE_MEDREVIEW",
    "SOURCE_REFERRAL",
    "SOWS_TOTAL",
    "STEP_DECLINED",
    "STEP_ID_SYSTEM",
    "STEP_REASON_DISPLAY",
    "STEP_STATUS_REASON",
    "STEP_WITHDRAWN",
    "TASK_ID_SYSTEM",
    "TOTAL_DAILY_OME",
    "UCUM",
    "coding",
    "concept",
    "has_coding",
    "source_tag",
]

BASE = "https://pain-review.example.org/fhir"
EXTENSION = f"{BASE}/StructureDefinition"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"

OBSERVATION_CODES = f"{BASE}/CodeSystem/medreview-observation"
TOTAL_DAILY_OME = "total-daily-ome"
OPIOID_OME = "opioid-ome"
SOWS_TOTAL = "sows-total"
OBSERVATION_DISPLAY = {
    TOTAL_DAILY_OME: "Total daily oral morphine equivalent",
    OPIOID_OME: "Oral morphine equivalent of one opioid",
    SOWS_TOTAL: "Subjective Opiate Withdrawal Scale (SOWS) total score",
}

RISK_CODES = f"{BASE}/CodeSystem/medreview-risk"
RISK_DISPLAY = {
    "ome-high-dose": "High opioid dose (120 mg OME a day or more)",
    "ome-specialist-advice": "Opioid dose needing specialist advice (300 mg OME a day or more)",
    "opioid-benzodiazepine": "Opioid with a benzodiazepine",
    "opioid-gabapentinoid": "Opioid with a gabapentinoid",
    "opioid-other-sedative": "Opioid with another sedative",
    "multiple-opioids": "More than one opioid",
    "ome-not-computable": "Oral morphine equivalent not computable",
    "opioid-authorisations-mismatch": "GP record's opioid prescriptions do not match the taper",
    "transmucosal-fentanyl": "Transmucosal fentanyl: no fixed OME, specialist advice",
    "opioid-substitution-therapy": "Opioid substitution therapy: liaise with the drug service",
    "above-licensed-maximum": "Dose above the licensed maximum",
    "methadone": "Methadone: no fixed OME, MDT or specialist review before a reduction",
}
OME_REASON_SYSTEM = f"{BASE}/CodeSystem/ome-not-computable-reason"
FACTOR_TABLE_SYSTEM = f"{BASE}/CodeSystem/ome-factor-table"

# A recorded MDT or specialist review before a taper (a completed Task): its code and outcomes.
REVIEW_CODES = f"{BASE}/CodeSystem/medreview-review"
MDT_REVIEW = "mdt-review"
MDT_OUTCOMES = {
    "taper-agreed": "A taper may be proposed",
    "taper-not-advised": "A taper is not advised now",
}

CAREPLAN_CATEGORY = f"{BASE}/CodeSystem/careplan-category"
MEDICATION_REVIEW = "medication-review"
GP_TASK_TYPE = f"{BASE}/CodeSystem/gp-task-type"
TASK_ID_SYSTEM = f"{BASE}/Id/gp-task"

# A taper step's proposed MedicationRequest: its business identifier (``<CarePlan id>-step-<n>``), and why it
# was cancelled (``statusReason``): the GP declined it (or it was refused as it would no longer lower the
# dose), or it was withdrawn (an earlier step declined, a pause or resume re-planned it, a discharge).
STEP_ID_SYSTEM = f"{BASE}/Id/taper-step"
STEP_STATUS_REASON = f"{BASE}/CodeSystem/taper-step-status-reason"
STEP_DECLINED = "declined"
STEP_WITHDRAWN = "withdrawn"
STEP_REASON_DISPLAY = {STEP_DECLINED: "Declined by the GP", STEP_WITHDRAWN: "Withdrawn: no longer proposed"}

# Where a stored medication resource came from (meta.tag): the GP record (medication.list-synced), the
# referral (patient.enrolled), or medreview itself (taper proposals and the orders a GP approved).
MEDICATION_SOURCE = f"{BASE}/CodeSystem/medication-source"
SOURCE_GP_RECORD = "gp-record"
SOURCE_REFERRAL = "referral"
SOURCE_MEDREVIEW = "medreview"

MEDICATION_LIST_CODE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/list-example-use-codes",
            "code": "medications",
            "display": "Medication List",
        }
    ],
    "text": "Medication list",
}


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A Coding dict (display left out when not given)."""
    found: dict[str, Any] = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept with one coding."""
    found: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text:
        found["text"] = text
    return found


def has_coding(value: Any, system: str, code: str) -> bool:
    """True when a CodeableConcept (or a list of them) carries ``system|code``."""
    concepts = value if isinstance(value, list) else [value]
    return any(
        c.get("system") == system and c.get("code") == code
        for cc in concepts
        if isinstance(cc, dict)
        for c in cc.get("coding") or []
        if isinstance(c, dict)
    )


def source_tag(source: str) -> dict[str, Any]:
    """The meta.tag saying where a medication resource came from."""
    return coding(MEDICATION_SOURCE, source)
