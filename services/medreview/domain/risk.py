"""Risk flags over an OME result: pure rules, each flag with a severity and its evidence.

Rules (figures from docs/domain/reference-facts.md, UK "Opioids Aware"; co-prescription from the MHRA
Drug Safety Updates on benzodiazepines with opioids (March 2020), gabapentin (October 2017) and
pregabalin (2021)):

* ``ome-high-dose``: total at or above 120 mg OME/day (high);
* ``ome-specialist-advice``: total at or above 300 mg OME/day, seek specialist support (high);
* ``opioid-benzodiazepine`` and ``opioid-gabapentinoid``: co-prescribed with an opioid (high);
* ``opioid-other-sedative``: an opioid with a z-drug (moderate). Amitriptyline is not counted as a sedative
  here (see the product data file's header);
* ``multiple-opioids``: more than one opioid medication (moderate);
* ``ome-not-computable``: an opioid's dose could not be computed, so the total is a lower bound (moderate);
* ``transmucosal-fentanyl``: no fixed OME, seek specialist advice (high); ``opioid-substitution-therapy``:
  liaise with the drug service, never tapered here (moderate) (``shared.medicines.special``);
* ``methadone``: any methadone product (high): it has no fixed conversion to oral morphine and its long,
  variable half-life makes a reduction a specialist's (Opioids Aware); the same medicines as the taper's
  ``methadone`` safety gate (``services.medreview.domain.gates``, which reads them through
  ``methadone_references``), so the gate reaches the monthly MDT agenda by ``medreview.completed`` like the
  other gates;
* ``above-licensed-maximum``: tramadol over 400 mg a day, codeine or dihydrocodeine over 240 mg, paracetamol
  in combinations over 4 g (high; BNF, ``shared.medicines.licensed``).

The service layer renders each flag as a FHIR ``DetectedIssue`` (``severity`` is its value set:
high | moderate | low) with ``evidence`` as the implicated medication references.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from services.medreview.domain.ome import OmeResult
from shared.medicines.licensed import above_licensed_maximum
from shared.medicines.special import OPIOID_SUBSTITUTION, TRANSMUCOSAL_FENTANYL
from shared.terminology import DrugClass

__all__ = [
    "HIGH_DOSE_MG_PER_DAY",
    "SPECIALIST_MG_PER_DAY",
    "RiskFlag",
    "Severity",
    "methadone_references",
    "risk_flags",
]

HIGH_DOSE_MG_PER_DAY = Decimal(120)
SPECIALIST_MG_PER_DAY = Decimal(300)
OPIOIDS_AWARE = "Faculty of Pain Medicine, Opioids Aware (docs/domain/reference-facts.md)"
MHRA_BENZODIAZEPINES = "MHRA Drug Safety Update, March 2020: benzodiazepines and opioids"
MHRA_GABAPENTINOIDS = (
    "MHRA Drug Safety Updates: gabapentin, risk of severe respiratory depression (October 2017); "
    "pregabalin, reports of severe respiratory depression (2021)"
)


class Severity(StrEnum):
    """FHIR DetectedIssue severity."""

    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class RiskFlag:
    """One detected issue: ``code`` (stable), ``severity``, a one-line ``summary``, ``detail`` with the
    figures, ``evidence`` (the implicated MedicationRequest/MedicationStatement references) and ``source``."""

    code: str
    severity: Severity
    summary: str
    detail: str
    evidence: tuple[str, ...]
    source: str


def risk_flags(
    result: OmeResult,
    *,
    high_dose_mg: Decimal = HIGH_DOSE_MG_PER_DAY,
    specialist_mg: Decimal = SPECIALIST_MG_PER_DAY,
) -> tuple[RiskFlag, ...]:
    """Every flag the rules raise for ``result``, most severe first (thresholds in mg OME/day)."""
    opioids = tuple(m.reference for m in result.medications if m.identified and m.identified.drug_class)
    computed = tuple(m.reference for m in result.medications if m.computable)
    total = result.total_mg_per_day
    lower_bound = " at least" if result.incomplete else ""
    flags: list[RiskFlag] = []
    if total >= specialist_mg:
        flags.append(
            RiskFlag(
                "ome-specialist-advice",
                Severity.HIGH,
                f"Total oral morphine equivalent{lower_bound} {total} mg/day: seek specialist pain advice",
                f"At or above {specialist_mg} mg OME/day, specialist support is advised.",
                computed,
                OPIOIDS_AWARE,
            )
        )
    elif total >= high_dose_mg:
        flags.append(
            RiskFlag(
                "ome-high-dose",
                Severity.HIGH,
                f"High opioid dose: total oral morphine equivalent{lower_bound} {total} mg/day",
                f"At or above {high_dose_mg} mg OME/day harms are likely to outweigh benefits.",
                computed,
                OPIOIDS_AWARE,
            )
        )
    if opioids:
        flags += _co_prescription(result, opioids)
    if len(opioids) > 1:
        flags.append(
            RiskFlag(
                "multiple-opioids",
                Severity.MODERATE,
                f"{len(opioids)} opioids prescribed together",
                "More than one opioid medication is active; review whether each is needed.",
                opioids,
                OPIOIDS_AWARE,
            )
        )
    flags += _special_and_licensed(result)
    methadone = methadone_references(result)
    if methadone:
        flags.append(
            RiskFlag(
                "methadone",
                Severity.HIGH,
                "Methadone: no fixed OME, a reduction needs MDT or specialist review",
                "Methadone has no fixed conversion to oral morphine and a long, variable half-life; "
                "plan any reduction with a specialist (and the drug service when it is substitution "
                "therapy).",
                methadone,
                OPIOIDS_AWARE,
            )
        )
    for med in result.not_computable:
        flags.append(
            RiskFlag(
                "ome-not-computable",
                Severity.MODERATE,
                f"Oral morphine equivalent of {med.name or med.reference} could not be computed",
                f"{med.reason} ({med.reason_code}). The total OME is a lower bound.",
                (med.reference,),
                OPIOIDS_AWARE,
            )
        )
    return tuple(sorted(flags, key=lambda f: list(Severity).index(f.severity)))


def methadone_references(result: OmeResult) -> tuple[str, ...]:
    """The references of the methadone products among the opioids reviewed (any form), in order, once each."""
    found = [
        med.reference
        for med in result.medications
        if (med.ingredient or (med.identified.ingredient if med.identified else None) or "") == "methadone"
    ]
    return tuple(dict.fromkeys(found))


def _co_prescription(result: OmeResult, opioids: tuple[str, ...]) -> list[RiskFlag]:
    rules = (
        (
            DrugClass.BENZODIAZEPINE,
            "opioid-benzodiazepine",
            Severity.HIGH,
            "a benzodiazepine",
            MHRA_BENZODIAZEPINES,
        ),
        (
            DrugClass.GABAPENTINOID,
            "opioid-gabapentinoid",
            Severity.HIGH,
            "a gabapentinoid",
            MHRA_GABAPENTINOIDS,
        ),
        (
            DrugClass.Z_DRUG,
            "opioid-other-sedative",
            Severity.MODERATE,
            "another sedative",
            MHRA_BENZODIAZEPINES,
        ),
    )
    flags = []
    for drug_class, code, severity, words, source in rules:
        others = [o for o in result.others if o.drug_class is drug_class]
        if others:
            names = ", ".join(o.name for o in others)
            flags.append(
                RiskFlag(
                    code,
                    severity,
                    f"Opioid prescribed with {words}: {names}",
                    "Together they add to sedation and respiratory depression; review the need for both.",
                    opioids + tuple(o.reference for o in others),
                    source,
                )
            )
    return flags


_SPECIAL = {
    TRANSMUCOSAL_FENTANYL: (Severity.HIGH, "Transmucosal fentanyl: no fixed OME, seek specialist advice"),
    OPIOID_SUBSTITUTION: (Severity.MODERATE, "Opioid substitution therapy: liaise with the drug service"),
}
BNF = "BNF, licensed maximum daily doses (shared/terminology/data/licensed-daily-maxima.csv)"
DRUG_MISUSE = "DHSC, Drug misuse and dependence: UK guidelines on clinical management (2017)"


def _special_and_licensed(result: OmeResult) -> list[RiskFlag]:
    flags = []
    for med in result.not_computable:
        if med.reason_code in _SPECIAL:
            severity, summary = _SPECIAL[med.reason_code]
            source = OPIOIDS_AWARE if med.reason_code == TRANSMUCOSAL_FENTANYL else DRUG_MISUSE
            flags.append(
                RiskFlag(
                    str(med.reason_code),
                    severity,
                    f"{summary}: {med.name or med.reference}",
                    med.reason or "",
                    (med.reference,),
                    source,
                )
            )
    for excess in above_licensed_maximum(result):
        flags.append(
            RiskFlag(
                "above-licensed-maximum",
                Severity.HIGH,
                f"{excess.ingredient.capitalize()} {excess.mg_per_day:f} mg a day is above the licensed "
                f"maximum of {excess.maximum:f} mg",
                f"{excess.reference}. Review the dose.",
                excess.evidence,
                BNF,
            )
        )
    return flags
