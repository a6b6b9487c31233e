"""GP Connect (FHIR STU3) to FHIR R4: the anti-corruption layer on the way in. Pure: no I/O."""

from services.gpconnect.fhir_mapping.bundle import (
    MEDICATION_LIST_CODE,
    PROBLEM_LIST_CODE,
    RecordMismatch,
    map_structured_record,
    structured_record_patient_nhs_number,
)
from services.gpconnect.fhir_mapping.conditions import map_condition
from services.gpconnect.fhir_mapping.dosage import map_dosage
from services.gpconnect.fhir_mapping.medications import (
    map_medication,
    map_medication_request,
    map_medication_statement,
)

__all__ = [
    "MEDICATION_LIST_CODE",
    "PROBLEM_LIST_CODE",
    "RecordMismatch",
    "map_condition",
    "map_dosage",
    "map_medication",
    "map_medication_request",
    "map_medication_statement",
    "map_structured_record",
    "structured_record_patient_nhs_number",
]
