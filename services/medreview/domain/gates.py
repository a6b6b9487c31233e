"""When a taper is not for the service to propose alone: the safety gates. Pure.

A plan is offered only after a multidisciplinary (MDT) or specialist review is recorded when the patient
takes (docs/domain/reference-facts.md and the clinical review of issue 15):

* ``high-dose``: 300 mg oral morphine equivalent a day or more (Opioids Aware: specialist support advised);
* ``methadone``: methadone has no fixed conversion and its long, variable half-life makes reductions a
  specialist's (and it is usually opioid substitution therapy);
* ``transmucosal-fentanyl``: buccal, sublingual or nasal fentanyl (rapid-onset, licensed for cancer
  breakthrough pain only: its use here needs specialist review);
* ``opioid-substitution``: opioid substitution therapy (buprenorphine 2 mg or more sublingual, buprenorphine
  with naloxone, long-acting buprenorphine injection, or methadone) belongs to the substance misuse service;
* ``benzodiazepine``: an opioid with a benzodiazepine (MHRA Drug Safety Update, March 2020: profound sedation,
  respiratory depression, death; the two are reduced one at a time under a plan agreed with a specialist).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.medreview.domain.ome import OmeResult
from services.medreview.domain.risk import SPECIALIST_MG_PER_DAY, methadone_references
from shared.medicines.special import OPIOID_SUBSTITUTION, TRANSMUCOSAL_FENTANYL
from shared.terminology import DrugClass

__all__ = ["GATE_TEXT", "Gate", "taper_gates"]

GATE_TEXT = {
    "high-dose": "a total of 300 mg oral morphine equivalent a day or more",
    "methadone": "methadone",
    "transmucosal-fentanyl": "transmucosal (buccal, sublingual or nasal) fentanyl",
    "opioid-substitution": "opioid substitution therapy (liaise with the patient's drug service, which owns "
    "that dose: this service does not taper it)",
    "benzodiazepine": "a benzodiazepine prescribed with the opioid",
}


@dataclass(frozen=True, slots=True)
class Gate:
    """One reason a plan waits for an MDT or specialist review: ``code``, and the medicines behind it."""

    code: str
    evidence: tuple[str, ...]

    @property
    def text(self) -> str:
        return GATE_TEXT[self.code]


def taper_gates(result: OmeResult) -> list[Gate]:
    """The gates the patient's medicines (an OME review of them) meet, in ``GATE_TEXT`` order."""
    found: dict[str, list[str]] = {}

    def add(code: str, reference: str) -> None:
        found.setdefault(code, []).append(reference)

    # The same methadone medicines as the review's ``methadone`` DetectedIssue (risk.py), which carries this
    # gate to careplan's MDT agenda.
    for reference in methadone_references(result):
        add("methadone", reference)
    for med in result.medications:
        # The medicines engine names the special products (shared.medicines.special), so the gates and the
        # OME review never disagree on what is transmucosal fentanyl or substitution therapy.
        if med.reason_code == TRANSMUCOSAL_FENTANYL:
            add("transmucosal-fentanyl", med.reference)
        if med.reason_code == OPIOID_SUBSTITUTION:
            add("opioid-substitution", med.reference)
    for other in result.others:
        if other.drug_class is DrugClass.BENZODIAZEPINE:
            add("benzodiazepine", other.reference)
    if result.total_mg_per_day >= SPECIALIST_MG_PER_DAY:
        add("high-dose", "total")
    return [Gate(code, tuple(dict.fromkeys(found[code]))) for code in GATE_TEXT if code in found]
