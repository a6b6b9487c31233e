"""A simulated patient's GP Connect structured record (STU3 collection Bundle), in the shapes of the
GP Connect 1.5 medication and problem guidance: MedicationStatement per course, MedicationRequest plan
per authorisation with repeat information, one MedicationRequest order per issue, Medication with dm+d
(SNOMED CT) codes, the problem list. Pure."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from painreview.simulator.population import SimMedication, SimPatient

__all__ = ["structured_record"]

GPC = "https://fhir.nhs.uk/STU3/StructureDefinition/"
SNOMED = "http://snomed.info/sct"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"


def _meta(profile: str) -> dict[str, Any]:
    return {"profile": [f"{GPC}{profile}"]}


def _prescription_type() -> dict[str, Any]:
    coding = {
        "system": "https://fhir.nhs.uk/STU3/CodeSystem/CareConnect-PrescriptionType-1",
        "code": "repeat",
        "display": "Repeat",
    }
    return {
        "url": f"{GPC}Extension-CareConnect-GPC-PrescriptionType-1",
        "valueCodeableConcept": {"coding": [coding]},
    }


def _dispense(med: SimMedication, start: date, days: int = 28) -> dict[str, Any]:
    return {
        "validityPeriod": {"start": start.isoformat()},
        "quantity": {"value": med.quantity or med.regimen.quantity, "unit": med.regimen.unit},
        "expectedSupplyDuration": {
            "value": days,
            "unit": "day",
            "system": "http://unitsofmeasure.org",
            "code": "d",
        },
    }


def _medication_resources(
    patient_ref: str, ods: str, med: SimMedication, today: date
) -> list[dict[str, Any]]:
    identifier = [{"system": f"https://simulated-gp.example/{ods}", "value": med.id}]
    medication_id = f"MED-{med.id}"
    codings: list[dict[str, Any]] = []
    if med.regimen.dmd_code:
        codings.append({"system": SNOMED, "code": med.regimen.dmd_code, "display": med.regimen.name})
    medication = {
        "resourceType": "Medication",
        "id": medication_id,
        "meta": _meta("CareConnect-GPC-Medication-1"),
        "code": {"coding": codings, "text": med.regimen.name} if codings else {"text": med.regimen.name},
    }
    issue_dates = (
        [today - timedelta(days=28 * k + 3) for k in range(med.issues)][::-1]
        if med.status == "active"
        else []
    )
    plan: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": med.id,
        "meta": _meta("CareConnect-GPC-MedicationRequest-1"),
        "extension": [
            {
                "url": f"{GPC}Extension-CareConnect-GPC-MedicationRepeatInformation-1",
                "extension": [
                    {"url": "numberOfRepeatPrescriptionsAllowed", "valueUnsignedInt": 12},
                    {"url": "numberOfRepeatPrescriptionsIssued", "valueUnsignedInt": len(issue_dates)},
                ],
            },
            _prescription_type(),
        ],
        "identifier": identifier,
        "groupIdentifier": {"value": med.id.lower()},
        "status": med.status,
        "intent": "plan",
        "medicationReference": {"reference": f"Medication/{medication_id}"},
        "subject": {"reference": patient_ref},
        "authoredOn": f"{med.start.isoformat()}T09:00:00+00:00",
        "dosageInstruction": [{"text": med.dosage}],
        "dispenseRequest": _dispense(med, med.start),
    }
    if med.prior_id:
        plan["priorPrescription"] = {"reference": f"MedicationRequest/{med.prior_id}"}
    issues = [
        {
            "resourceType": "MedicationRequest",
            "id": f"{med.id}-ISSUE-{n + 1}",
            "meta": _meta("CareConnect-GPC-MedicationRequest-1"),
            "extension": [_prescription_type()],
            "basedOn": [{"reference": f"MedicationRequest/{med.id}"}],
            "groupIdentifier": {"value": med.id.lower()},
            "status": "completed",
            "intent": "order",
            "medicationReference": {"reference": f"Medication/{medication_id}"},
            "subject": {"reference": patient_ref},
            "authoredOn": f"{issued.isoformat()}T10:00:00+00:00",
            "dosageInstruction": [{"text": med.dosage}],
            "dispenseRequest": _dispense(med, issued),
        }
        for n, issued in enumerate(issue_dates)
    ]
    statement: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": f"MS-{med.id}",
        "meta": _meta("CareConnect-GPC-MedicationStatement-1"),
        "basedOn": [{"reference": f"MedicationRequest/{med.id}"}],
        "status": "active" if med.status == "active" else "stopped",
        "medicationReference": {"reference": f"Medication/{medication_id}"},
        "effectivePeriod": {"start": med.start.isoformat()},
        "dateAsserted": f"{med.start.isoformat()}T09:00:00+00:00",
        "subject": {"reference": patient_ref},
        "taken": "unk",
        "dosage": [{"text": med.dosage}],
    }
    if issue_dates:
        statement["extension"] = [
            {
                "url": f"{GPC}Extension-CareConnect-GPC-MedicationStatementLastIssueDate-1",
                "valueDateTime": issue_dates[-1].isoformat(),
            }
        ]
    return [statement, plan, *issues, medication]


def structured_record(patient: SimPatient, ods: str, *, today: date) -> dict[str, Any]:
    """The ``$gpc.getstructuredrecord`` answer for ``patient`` (medications with issues, problems)."""
    patient_id = f"PAT-{patient.nhs_number}"
    patient_ref = f"Patient/{patient_id}"
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": patient_id,
            "meta": _meta("CareConnect-GPC-Patient-1"),
            "identifier": [{"system": NHS_NUMBER, "value": patient.nhs_number}],
            "name": [{"use": "official", "family": patient.family, "given": [patient.given]}],
            "gender": patient.gender,
            "birthDate": patient.birth_date.isoformat(),
            "generalPractitioner": [{"display": ods}],
        }
    ]
    medication_resources = [
        r for m in patient.medications for r in _medication_resources(patient_ref, ods, m, today)
    ]
    conditions = [
        {
            "resourceType": "Condition",
            "id": f"PROB-{patient.nhs_number}-{n}",
            "meta": _meta("CareConnect-GPC-ProblemHeader-Condition-1"),
            "clinicalStatus": "active",
            "category": [
                {
                    "coding": [
                        {"system": "http://hl7.org/fhir/condition-category", "code": "problem-list-item"}
                    ]
                }
            ],
            "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
            "subject": {"reference": patient_ref},
            "assertedDate": f"{(today - timedelta(days=400 + 30 * n)).isoformat()}T09:00:00+00:00",
        }
        for n, (code, display) in enumerate(patient.conditions)
    ]
    lists = [
        _list(
            "LIST-MEDS",
            "933361000000108",
            "Medications and medical devices",
            patient_ref,
            [r for r in medication_resources if r["resourceType"] == "MedicationStatement"],
        ),
        _list("LIST-PROBS", "717711000000103", "Problems", patient_ref, conditions),
    ]
    resources += lists + medication_resources + conditions
    return {
        "resourceType": "Bundle",
        "meta": _meta("GPConnect-StructuredRecord-Bundle-1"),
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def _list(
    list_id: str, code: str, title: str, patient_ref: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "List",
        "id": list_id,
        "meta": _meta("CareConnect-GPC-List-1"),
        "status": "current",
        "mode": "snapshot",
        "title": title,
        "code": {"coding": [{"system": SNOMED, "code": code, "display": title}]},
        "subject": {"reference": patient_ref},
    }
    if items:
        resource["entry"] = [{"item": {"reference": f"{r['resourceType']}/{r['id']}"}} for r in items]
    else:
        resource["emptyReason"] = {
            "coding": [{"system": "http://hl7.org/fhir/list-empty-reason", "code": "nocontent"}]
        }
    return resource
