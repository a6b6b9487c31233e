"""A GP practice's synthetic patients, deterministic from a seed. Pure (no I/O; dates from ``today``).

Proportions follow the interviewed cohort of the service evaluation (``docs/domain/BRIEF.md``, Table 1):
female 67%, age mean 52.8 (SD 9.8); opioids codeine family 61%, morphine 50%, oxycodone 39%,
buprenorphine 22%, tramadol 22%; other medicines benzodiazepines 28%, amitriptyline 17%, gabapentin 17%,
pregabalin 6%; arthritis 50%, joint and muscular pain 50%, depression 10 of 18, anxiety 2 of 18. Each
medicine is drawn independently with its share (a patient who drew no opioid gets one, drawn by share).

The practice also holds people the service must exclude (cancer pain, palliative care, under 18) and
people on no opioid at all, so that screening has something to sort. NHS numbers are from the range
that is never issued (999 prefix, valid check digit).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from nhs_number.validate import calculate_checksum, is_valid

__all__ = ["REGIMENS", "Regimen", "SimMedication", "SimPatient", "synthetic_practice"]


@dataclass(frozen=True)
class Regimen:
    """A medicine as prescribed: dm+d VMP code and name (``shared/terminology`` data), the dosage text."""

    group: str
    dmd_code: str
    name: str
    dosage: str
    quantity: int
    unit: str


# One or more realistic regimens per group; dm+d codes from shared/terminology/data/dmd-opioid-products.csv.
REGIMENS: dict[str, tuple[Regimen, ...]] = {
    "codeine": (
        Regimen(
            "codeine",
            "42009811000001101",
            "Co-codamol 30mg/500mg tablets",
            "Two tablets four times a day",
            224,
            "tablet",
        ),
        Regimen(
            "codeine",
            "42010411000001105",
            "Codeine 30mg tablets",
            "One or two tablets up to four times a day when required",
            224,
            "tablet",
        ),
        Regimen(
            "codeine",
            "39708511000001104",
            "Dihydrocodeine 30mg tablets",
            "One tablet four times a day",
            112,
            "tablet",
        ),
    ),
    "morphine": (
        Regimen(
            "morphine",
            "36127311000001102",
            "Morphine 30mg modified-release tablets",
            "One tablet twice a day",
            56,
            "tablet",
        ),
        Regimen(
            "morphine",
            "36126511000001106",
            "Morphine 10mg modified-release tablets",
            "Two tablets twice a day",
            112,
            "tablet",
        ),
    ),
    "oxycodone": (
        Regimen(
            "oxycodone",
            "36129511000001101",
            "Oxycodone 10mg modified-release tablets",
            "One tablet twice a day",
            56,
            "tablet",
        ),
        Regimen(
            "oxycodone",
            "42016011000001103",
            "Oxycodone 5mg capsules",
            "One capsule four times a day when required",
            112,
            "capsule",
        ),
    ),
    "buprenorphine": (
        Regimen(
            "buprenorphine",
            "9567411000001100",
            "Buprenorphine 10micrograms/hour transdermal patches",
            "Apply one patch every 7 days",
            4,
            "patch",
        ),
        Regimen(
            "buprenorphine",
            "9567311000001107",
            "Buprenorphine 20micrograms/hour transdermal patches",
            "Apply one patch every 7 days",
            4,
            "patch",
        ),
    ),
    "tramadol": (
        Regimen(
            "tramadol",
            "42017811000001106",
            "Tramadol 50mg capsules",
            "One or two capsules up to four times a day when required",
            224,
            "capsule",
        ),
        Regimen(
            "tramadol",
            "35920311000001103",
            "Tramadol 100mg modified-release tablets",
            "One tablet twice a day",
            56,
            "tablet",
        ),
    ),
    "benzodiazepine": (
        Regimen(
            "benzodiazepine",
            "42128311000001104",
            "Diazepam 5mg tablets",
            "One tablet three times a day",
            84,
            "tablet",
        ),
        Regimen(
            "benzodiazepine", "42128111000001107", "Diazepam 2mg tablets", "One tablet at night", 28, "tablet"
        ),
    ),
    "amitriptyline": (
        Regimen(
            "amitriptyline", "", "Amitriptyline 10mg tablets", "One to three tablets at night", 84, "tablet"
        ),
    ),
    "gabapentin": (
        Regimen(
            "gabapentin",
            "42129711000001109",
            "Gabapentin 300mg capsules",
            "One capsule three times a day",
            84,
            "capsule",
        ),
    ),
    "pregabalin": (
        Regimen(
            "pregabalin",
            "42135711000001109",
            "Pregabalin 75mg capsules",
            "One capsule twice a day",
            56,
            "capsule",
        ),
    ),
}
OPIOIDS = ("codeine", "morphine", "oxycodone", "buprenorphine", "tramadol")
SHARES = {
    "codeine": 0.61,
    "morphine": 0.50,
    "oxycodone": 0.39,
    "buprenorphine": 0.22,
    "tramadol": 0.22,
    "benzodiazepine": 0.28,
    "amitriptyline": 0.17,
    "gabapentin": 0.17,
    "pregabalin": 0.06,
}
CONDITIONS = {
    "osteoarthritis": (("239873007", "Osteoarthritis of knee"), 0.50),
    "joint-muscular": (("279039007", "Low back pain"), 0.50),
    "depression": (("35489007", "Depressive disorder"), 10 / 18),
    "anxiety": (("197480006", "Anxiety disorder"), 2 / 18),
}
EXCLUSIONS = {
    "cancer": ("363346000", "Malignant neoplastic disease"),
    "palliative": ("103735009", "Palliative care"),
}
FIRST_NAMES = ("Alex", "Sam", "Jo", "Chris", "Pat", "Morgan", "Jamie", "Robin", "Kim", "Lee")
SURNAMES = ("TESTER", "EXAMPLE", "SAMPLE", "DEMO", "SYNTHETIC", "FICTION", "PLACEHOLDER", "MOCK")


@dataclass
class SimMedication:
    """One authorisation: a regimen started on ``start`` with ``issues`` monthly issues, the last recent."""

    id: str
    regimen: Regimen
    start: date
    issues: int
    status: str = "active"
    prior_id: str | None = None
    dosage_text: str | None = None
    quantity: int | None = None
    change_group: str | None = None
    """The group of the change that made it (one prescription per strength of one dose), if any."""

    @property
    def dosage(self) -> str:
        return self.dosage_text or self.regimen.dosage


@dataclass
class SimPatient:
    nhs_number: str
    given: str
    family: str
    gender: str
    birth_date: date
    conditions: list[tuple[str, str]] = field(default_factory=list)
    medications: list[SimMedication] = field(default_factory=list)
    group: str = "cohort"
    """cohort (eligible-looking), cancer, palliative, under-18, or no-opioid."""

    @property
    def opioids(self) -> list[SimMedication]:
        return [m for m in self.medications if m.regimen.group in OPIOIDS and m.status == "active"]


def test_range_nhs_number(rng: random.Random, used: set[str]) -> str:
    """A valid NHS number from the never-issued 999 range, not in ``used``."""
    while True:
        base = f"999{rng.randrange(0, 1_000_000):06d}"
        check = calculate_checksum(base)
        if check is None or check == 10:
            continue
        number = f"{base}{check}"
        if number not in used and is_valid(number):
            used.add(number)
            return number


def _age(rng: random.Random, group: str) -> int:
    if group == "under-18":
        return rng.randint(14, 17)
    return max(19, min(90, round(rng.gauss(52.8, 9.8))))


def _medications(rng: random.Random, patient_no: int, today: date, groups: list[str]) -> list[SimMedication]:
    meds = []
    for n, group in enumerate(groups):
        regimen = rng.choice(REGIMENS[group])
        months = rng.randint(6, 36)
        start = today - timedelta(days=30 * months)
        meds.append(
            SimMedication(f"AUTH-{patient_no:05d}-{n}", regimen, start, min(months, rng.randint(4, 12)))
        )
    return meds


def _groups_for(rng: random.Random, group: str) -> list[str]:
    if group == "no-opioid":
        return [g for g in ("amitriptyline", "gabapentin") if rng.random() < 0.1]
    chosen = [g for g, share in SHARES.items() if rng.random() < share]
    if not any(g in OPIOIDS for g in chosen):
        chosen.insert(0, rng.choices(OPIOIDS, weights=[SHARES[g] for g in OPIOIDS])[0])
    return chosen


def synthetic_practice(ods: str, *, seed: int = 1, size: int = 3000, today: date) -> list[SimPatient]:
    """``size`` patients of practice ``ods``: 60% the opioid cohort, 4% cancer, 3% palliative care,
    3% under 18 on an opioid, the rest on no opioid. Same seed and size, same practice."""
    rng = random.Random(f"{ods}:{seed}")  # noqa: S311 (synthetic data, not secrets)
    used: set[str] = set()
    patients = []
    for n in range(size):
        roll = rng.random()
        group = (
            "cohort"
            if roll < 0.60
            else "cancer"
            if roll < 0.64
            else "palliative"
            if roll < 0.67
            else "under-18"
            if roll < 0.70
            else "no-opioid"
        )
        gender = "female" if rng.random() < 0.67 else "male"
        age = _age(rng, group)
        birth = today - timedelta(days=365 * age + rng.randint(0, 364))
        patient = SimPatient(
            test_range_nhs_number(rng, used),
            rng.choice(FIRST_NAMES),
            rng.choice(SURNAMES),
            gender,
            birth,
            group=group,
        )
        if group != "under-18":
            patient.conditions = [code for code, share in CONDITIONS.values() if rng.random() < share]
        if group in EXCLUSIONS:
            patient.conditions.insert(0, EXCLUSIONS[group])
        patient.medications = _medications(rng, n, today, _groups_for(rng, group))
        patients.append(patient)
    return patients
