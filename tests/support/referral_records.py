"""Synthetic FHIR R4 records for the referral rules: realistic UK primary-care shapes, no real people.

NHS numbers come from the 999 test range and carry a valid modulus 11 check digit. Medicines are the
opioid regimens of the evaluation's interviewed cohort (codeine family, morphine, oxycodone,
buprenorphine, tramadol) with the co-prescriptions it reported (benzodiazepines, gabapentinoids).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from services.referral.domain.eligibility import DMD_SYSTEM, SNOMED_SYSTEM, PatientRecords, add_months

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
_ids = itertools.count(1)


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus 11 check digit of an NHS number's first nine digits; None if no number can end them."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    return None if check == 10 else (0 if check == 11 else check)


def nhs_number_for(serial: int) -> str:
    """A valid NHS number in the 999 test range, distinct for each `serial` below 100,000."""
    for spare in range(10):
        first_nine = f"999{serial:05d}{spare}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return f"{first_nine}{check}"
    raise AssertionError("some spare digit always gives a check digit")


def patient(birth_date: str | None = "1971-03-09", serial: int = 1, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": f"pat-{serial}",
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": nhs_number_for(serial)}],
        "name": [{"family": "Testpatient", "given": [f"Alex{serial}"]}],
        "gender": "female",
        **extra,
    }
    if birth_date is not None:
        resource["birthDate"] = birth_date
    return resource


def medicine(text: str | None = None, code: str | None = None, system: str = DMD_SYSTEM) -> dict[str, Any]:
    """A medicationCodeableConcept with a coding (no display) and/or text."""
    concept: dict[str, Any] = {}
    if code is not None:
        concept["coding"] = [{"system": system, "code": code}]
    if text is not None:
        concept["text"] = text
    return concept


CODEINE_30 = medicine("Codeine phosphate 30mg tablets")
CO_CODAMOL_30_500 = medicine("Co-codamol 30mg/500mg tablets", "322341003")


def request(
    concept: dict[str, Any] | None = None,
    authored: str | None = "2024-01-01",
    serial: int = 1,
    status: str = "active",
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": f"mr-{next(_ids)}",
        "status": status,
        "intent": "order",
        "subject": {"reference": f"Patient/pat-{serial}"},
        **extra,
    }
    if "medicationReference" not in extra and "medicationCodeableConcept" not in extra:
        resource["medicationCodeableConcept"] = concept if concept is not None else CODEINE_30
    if authored is not None:
        resource["authoredOn"] = authored
    return resource


def statement(
    concept: dict[str, Any], serial: int = 1, status: str = "active", **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": f"ms-{next(_ids)}",
        "status": status,
        "subject": {"reference": f"Patient/pat-{serial}"},
        "medicationCodeableConcept": concept,
        **extra,
    }


def monthly(
    first: date, count: int, concept: dict[str, Any] | None = None, serial: int = 1
) -> list[dict[str, Any]]:
    """`count` repeat prescriptions a calendar month apart from `first`, as a GP system issues them."""
    return [request(concept, add_months(first, i).isoformat(), serial) for i in range(count)]


def condition(
    text: str | None = None,
    code: str | None = None,
    clinical: str | None = "active",
    serial: int = 1,
    recorded: str | None = "2019-05-20",
    **extra: Any,
) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code is not None:
        concept["coding"] = [{"system": SNOMED_SYSTEM, "code": code}]
    if text is not None:
        concept["text"] = text
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"cond-{next(_ids)}",
        "subject": {"reference": f"Patient/pat-{serial}"},
        "code": concept,
        **extra,
    }
    if clinical is not None:
        resource["clinicalStatus"] = {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}
            ]
        }
    if recorded is not None:
        resource["recordedDate"] = recorded
    return resource


def flag(text: str, status: str = "active", serial: int = 1) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "id": f"flag-{next(_ids)}",
        "status": status,
        "subject": {"reference": f"Patient/pat-{serial}"},
        "code": {"text": text},
    }


CHRONIC_BACK_PAIN = condition("Chronic low back pain")


def records(*resources: dict[str, Any], serial: int = 1) -> PatientRecords:
    return PatientRecords.from_resources(f"Patient/pat-{serial}", resources)


def typical(
    *,
    birth_date: str | None = "1971-03-09",
    first: date = date(2023, 6, 1),
    count: int = 12,
    concept: dict[str, Any] | None = None,
    extra: tuple[dict[str, Any], ...] = (),
    serial: int = 1,
) -> PatientRecords:
    """An eligible patient (on 2024-06-15 with the defaults) plus any `extra` resources."""
    resources = [
        patient(birth_date, serial),
        *monthly(first, count, concept, serial),
        condition("Chronic low back pain", serial=serial),
        *extra,
    ]
    return records(*resources, serial=serial)


def dosed(
    text: str, dose: float, unit: str, frequency: int, period: float = 1, period_unit: str = "d"
) -> dict[str, Any]:
    """A structured dosage: `dose` `unit`, `frequency` times every `period` `period_unit`."""
    return {
        "medicationCodeableConcept": medicine(text),
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": period_unit}},
                "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit}}],
            }
        ],
    }


# The interviewed cohort's regimens (BRIEF.md, Table 1), as GP systems record them.
REGIMENS = [
    ("Co-codamol 30mg/500mg tablets", 2, "tablet", 4),
    ("Codeine phosphate 30mg tablets", 1, "tablet", 4),
    ("Dihydrocodeine 30mg tablets", 1, "tablet", 3),
    ("Morphine sulfate 30mg modified-release tablets", 1, "tablet", 2),
    ("Oxycodone 20mg modified-release tablets", 1, "tablet", 2),
    ("Tramadol 50mg capsules", 2, "capsule", 4),
    ("Buprenorphine 10micrograms/hour seven day transdermal patches", 1, "patch", 1),
]
SEDATIVES = [
    "Diazepam 5mg tablets",
    "Gabapentin 300mg capsules",
    "Pregabalin 75mg capsules",
    "Zopiclone 7.5mg tablets",
]


def practice(count: int, seed: int = 2016, start_serial: int = 1000) -> Iterator[dict[str, Any]]:
    """A lazily generated practice: each patient's resources together, types interleaved, as in NDJSON."""
    rng = random.Random(seed)
    for serial in range(start_serial, start_serial + count):
        yield patient(f"{rng.randint(1935, 2008)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", serial)
        text, dose, unit, frequency = rng.choice(REGIMENS)
        first = date(2024, 6, 1) - timedelta(days=rng.randint(20, 2000))
        for i, issued in enumerate(
            d for d in (add_months(first, k) for k in range(40)) if d <= date(2024, 6, 15)
        ):
            yield request(None, issued.isoformat(), serial, **dosed(text, dose, unit, frequency))
            if i == 0:
                yield condition(
                    rng.choice(
                        ["Chronic low back pain", "Osteoarthritis of knee", "Fibromyalgia", "Knee pain"]
                    ),
                    serial=serial,
                    recorded=first.isoformat(),
                )
        if rng.random() < 0.4:
            yield request(medicine(rng.choice(SEDATIVES)), "2024-05-20", serial)
        if rng.random() < 0.05:
            yield condition(
                "Carcinoma of prostate", clinical=rng.choice(["active", "remission"]), serial=serial
            )
