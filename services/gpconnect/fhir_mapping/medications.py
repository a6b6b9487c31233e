"""GP Connect medication resources (STU3) to R4: Medication, MedicationStatement, MedicationRequest.

GP Connect's model (Access Record Structured, medications guidance): a ``MedicationStatement`` is the
summary of one course of a medicine; a ``MedicationRequest`` with ``intent`` ``plan`` is the GP's
authorisation (repeat or acute), and each one with ``intent`` ``order`` is one issue of it, ``basedOn``
the plan. R4 keeps that model; the differences are field names and the extensions, which move from the
GP Connect STU3 ones to UK Core's R4 ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.gpconnect.fhir_mapping.common import (
    UKCORE_EXT,
    JsonObject,
    copy_fields,
    extension,
    map_reference,
    map_references,
)
from services.gpconnect.fhir_mapping.dosage import map_dosage

__all__ = ["map_medication", "map_medication_request", "map_medication_statement"]

COURSE_OF_THERAPY = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
# GP Connect prescription types (CareConnect-PrescriptionType-1) to R4 course of therapy.
_COURSE_BY_PRESCRIPTION_TYPE = {
    "acute": ("acute", "Short course (acute) therapy"),
    "acute-handwritten": ("acute", "Short course (acute) therapy"),
    "delayed-prescribing": ("acute", "Short course (acute) therapy"),
    "repeat": ("continuous", "Continuous long term therapy"),
    "repeat-dispensing": ("continuous", "Continuous long term therapy"),
}
UKCORE_PRESCRIBING_ORG = "https://fhir.hl7.org.uk/CodeSystem/UKCore-MedicationPrescribingOrganizationType"


def _profile(name: str) -> JsonObject:
    return {"profile": [f"{UKCORE_EXT}UKCore-{name}"]}


def _value(ext: Mapping[str, Any] | None, *keys: str) -> Any:
    if ext is None:
        return None
    return next((ext[k] for k in keys if k in ext), None)


def _sub_extension(ext: Mapping[str, Any] | None, url: str) -> Mapping[str, Any] | None:
    if ext is None:
        return None
    return next((e for e in ext.get("extension", ()) if e.get("url") == url), None)


def map_medication(medication: Mapping[str, Any]) -> JsonObject:
    """R4 Medication: the dm+d (SNOMED CT) and supplier codings are kept as they are."""
    mapped: JsonObject = {
        "resourceType": "Medication",
        "id": medication["id"],
        "meta": _profile("Medication"),
    }
    mapped.update(copy_fields(medication, ("identifier", "code", "status", "form")))
    ingredients = []
    for ingredient in medication.get("ingredient", ()):
        item = copy_fields(ingredient, ("itemCodeableConcept", "isActive"))
        if "amount" in ingredient:
            item["strength"] = ingredient["amount"]
        if item:
            ingredients.append(item)
    if ingredients:
        mapped["ingredient"] = ingredients
    batch = medication.get("package", {}).get("batch", [])
    if batch:
        mapped["batch"] = copy_fields(batch[0], ("lotNumber", "expirationDate"))
    return mapped


def map_medication_statement(statement: Mapping[str, Any], patient_reference: str) -> JsonObject:
    """R4 MedicationStatement. STU3 ``taken`` is gone in R4: ``taken: n`` becomes ``status: not-taken``."""
    mapped: JsonObject = {
        "resourceType": "MedicationStatement",
        "id": statement["id"],
        "meta": _profile("MedicationStatement"),
    }
    mapped.update(
        copy_fields(
            statement,
            (
                "identifier",
                "status",
                "category",
                "medicationCodeableConcept",
                "effectiveDateTime",
                "effectivePeriod",
                "dateAsserted",
                "reasonCode",
                "note",
            ),
        )
    )
    if statement.get("taken") == "n" and statement.get("status") != "entered-in-error":
        mapped["status"] = "not-taken"
    if "reasonNotTaken" in statement:
        mapped["statusReason"] = statement["reasonNotTaken"]
    medication = map_reference(statement.get("medicationReference"), patient_reference)
    if medication is not None:
        mapped["medicationReference"] = medication
    mapped["subject"] = {"reference": patient_reference}
    based_on = map_references(statement.get("basedOn", ()), patient_reference)
    if based_on:
        mapped["basedOn"] = based_on
    if statement.get("dosage"):
        mapped["dosage"] = [map_dosage(d) for d in statement["dosage"]]
    ext = _statement_extensions(statement)
    if ext:
        mapped["extension"] = ext
    return mapped


def _statement_extensions(statement: Mapping[str, Any]) -> list[JsonObject]:
    found: list[JsonObject] = []
    last_issue = _value(
        extension(
            statement,
            "Extension-CareConnect-GPC-MedicationStatementLastIssueDate-1",
            "Extension-CareConnect-MedicationStatementLastIssueDate-1",
        ),
        "valueDateTime",
    )
    if last_issue is not None:
        found.append(
            {
                "url": f"{UKCORE_EXT}Extension-UKCore-MedicationStatementLastIssueDate",
                "valueDateTime": last_issue,
            }
        )
    agency = _value(
        extension(statement, "Extension-CareConnect-GPC-PrescribingAgency-1"), "valueCodeableConcept"
    )
    codings = agency.get("coding", []) if isinstance(agency, dict) else []
    if codings:
        coding = {"system": UKCORE_PRESCRIBING_ORG, **copy_fields(codings[0], ("code", "display"))}
        found.append(
            {
                "url": f"{UKCORE_EXT}Extension-UKCore-MedicationPrescribingOrganization",
                "valueCodeableConcept": {"coding": [coding]},
            }
        )
    return found


def map_medication_request(request: Mapping[str, Any], patient_reference: str) -> JsonObject:
    """R4 MedicationRequest: an authorisation (``intent`` plan) or an issue (``intent`` order).

    The repeat information (how many issues are allowed, how many were made, when the authorisation
    expires) and the prescription type (acute or repeat) travel on; an ended authorisation keeps its
    status (``stopped``, ``completed``) and its reason from GP Connect's status reason extension.
    """
    mapped: JsonObject = {
        "resourceType": "MedicationRequest",
        "id": request["id"],
        "meta": _profile("MedicationRequest"),
    }
    mapped.update(
        copy_fields(
            request,
            (
                "identifier",
                "groupIdentifier",
                "status",
                "intent",
                "category",
                "priority",
                "medicationCodeableConcept",
                "authoredOn",
                "reasonCode",
                "note",
            ),
        )
    )
    medication = map_reference(request.get("medicationReference"), patient_reference)
    if medication is not None:
        mapped["medicationReference"] = medication
    mapped["subject"] = {"reference": patient_reference}
    for name in ("basedOn",):
        refs = map_references(request.get(name, ()), patient_reference)
        if refs:
            mapped[name] = refs
    prior = map_reference(request.get("priorPrescription"), patient_reference)
    if prior is not None:
        mapped["priorPrescription"] = prior
    if request.get("dosageInstruction"):
        mapped["dosageInstruction"] = [map_dosage(d) for d in request["dosageInstruction"]]
    dispense = copy_fields(
        request.get("dispenseRequest", {}),
        ("validityPeriod", "numberOfRepeatsAllowed", "quantity", "expectedSupplyDuration"),
    )
    repeat = extension(
        request,
        "Extension-CareConnect-GPC-MedicationRepeatInformation-1",
        "Extension-CareConnect-MedicationRepeatInformation-1",
    )
    allowed = _value(_sub_extension(repeat, "numberOfRepeatPrescriptionsAllowed"), "valueUnsignedInt")
    if allowed is not None:
        dispense["numberOfRepeatsAllowed"] = allowed
    if dispense:
        mapped["dispenseRequest"] = dispense
    if "substitution" in request:
        substitution = copy_fields(request["substitution"], ("reason",))
        substitution["allowedBoolean"] = bool(request["substitution"].get("allowed", True))
        mapped["substitution"] = substitution
    course = _course_of_therapy(request)
    if course is not None:
        mapped["courseOfTherapyType"] = course
    status_reason = _status_reason(request)
    if status_reason is not None:
        mapped["statusReason"] = status_reason
    repeat_ext = _repeat_information(repeat)
    if repeat_ext is not None:
        mapped["extension"] = [repeat_ext]
    return mapped


def _course_of_therapy(request: Mapping[str, Any]) -> JsonObject | None:
    ext = extension(request, "Extension-CareConnect-GPC-PrescriptionType-1")
    concept = _value(ext, "valueCodeableConcept") or {}
    for coding in concept.get("coding", ()):
        course = _COURSE_BY_PRESCRIPTION_TYPE.get(str(coding.get("code", "")))
        if course is not None:
            code, display = course
            return {
                "coding": [{"system": COURSE_OF_THERAPY, "code": code, "display": display}],
                "text": coding.get("display") or str(coding.get("code")),
            }
    return None


def _status_reason(request: Mapping[str, Any]) -> JsonObject | None:
    ext = extension(request, "Extension-CareConnect-GPC-MedicationStatusReason-1")
    reason = _value(_sub_extension(ext, "statusReason"), "valueCodeableConcept")
    return dict(reason) if isinstance(reason, dict) else None


def _repeat_information(repeat: Mapping[str, Any] | None) -> JsonObject | None:
    if repeat is None:
        return None
    parts: list[JsonObject] = []
    issued = _value(_sub_extension(repeat, "numberOfRepeatPrescriptionsIssued"), "valueUnsignedInt")
    if issued is not None:
        parts.append({"url": "numberOfPrescriptionsIssued", "valueUnsignedInt": issued})
    expiry = _value(_sub_extension(repeat, "authorisationExpiryDate"), "valueDateTime")
    if expiry is not None:
        parts.append({"url": "authorisationExpiryDate", "valueDateTime": expiry})
    if not parts:
        return None
    return {"url": f"{UKCORE_EXT}Extension-UKCore-MedicationRepeatInformation", "extension": parts}
