"""Opioid products never converted or tapered by a factor: transmucosal fentanyl and substitution therapy.

Pure. Sources: Faculty of Pain Medicine, Opioids Aware ("Dose equivalents and changing opioids": immediate-
release transmucosal fentanyl is titrated for breakthrough pain and has no reliable equivalence to oral
morphine); UK guidelines on clinical management of drug misuse and dependence (DHSC 2017, "Orange book"):
buprenorphine (sublingual tablets from 2 mg, Subutex, Espranor oral lyophilisate, Buvidal prolonged-release
injection, with naloxone as Suboxone or Zubsolv) and methadone 1 mg/ml oral solution are prescribed as
opioid substitution therapy, whose dose the treating drug service owns.
"""

from __future__ import annotations

import re
from decimal import Decimal

from shared.medicines.identify import IdentifiedMedication

__all__ = [
    "OPIOID_SUBSTITUTION",
    "TRANSMUCOSAL_FENTANYL",
    "special_product",
    "substitution_dose",
]

TRANSMUCOSAL_FENTANYL = "transmucosal-fentanyl"
OPIOID_SUBSTITUTION = "opioid-substitution-therapy"
_TRANSMUCOSAL_ROUTES = frozenset({"buccal", "nasal", "sublingual", "oromucosal"})
_TRANSMUCOSAL_WORDS = re.compile(
    r"abstral|effentora|pecfent|instanyl|actiq|breakyl|recivit|cynril|buccal|nasal|sublingual|lozenge"
    r"|oromucosal",
    re.IGNORECASE,
)
_BUPRENORPHINE_OST = re.compile(
    r"subutex|espranor|buvidal|suboxone|zubsolv|lyophilisate|prolonged-release (?:solution for )?injection",
    re.IGNORECASE,
)
_METHADONE_OST = re.compile(r"\b1\s*mg\s*/\s*(?:1\s*)?ml\b|methadose|concentrate", re.IGNORECASE)
SUBSTITUTION_DOSE_MG = Decimal(2)  # sublingual buprenorphine from 2 mg a dose: substitution, not analgesia

TRANSMUCOSAL_TEXT = (
    "Transmucosal fentanyl (buccal, sublingual, nasal or lozenge) has no fixed oral morphine equivalent: it "
    "is titrated for breakthrough pain. Seek specialist advice; it is never converted or tapered by a factor."
)
SUBSTITUTION_TEXT = (
    "Recognised as opioid substitution therapy: liaise with the patient's drug service, which owns this "
    "dose. This service neither converts it to an oral morphine equivalent nor tapers it."
)


def special_product(med: IdentifiedMedication) -> tuple[str, str] | None:
    """(code, advice) when ``med`` is transmucosal fentanyl or opioid substitution therapy, else ``None``."""
    product = med.product
    names = " ".join(filter(None, (med.name, product.name if product else "")))
    if med.ingredient == "fentanyl":
        transdermal = product is not None and product.route == "transdermal"
        by_route = product is not None and product.route in _TRANSMUCOSAL_ROUTES
        if by_route or (not transdermal and _TRANSMUCOSAL_WORDS.search(names)):
            return TRANSMUCOSAL_FENTANYL, TRANSMUCOSAL_TEXT
    if med.ingredient == "buprenorphine":
        sublingual = product is not None and product.route == "sublingual"
        substitution_strength = (
            sublingual and product is not None and product.strength_per_unit >= SUBSTITUTION_DOSE_MG
        )
        if _BUPRENORPHINE_OST.search(names) or substitution_strength:
            return OPIOID_SUBSTITUTION, SUBSTITUTION_TEXT
    methadone_ost = _METHADONE_OST.search(names) or "physeptone" in names.lower()
    if med.ingredient == "methadone" and methadone_ost and (product is None or product.per_unit == "ml"):
        return OPIOID_SUBSTITUTION, SUBSTITUTION_TEXT
    return None


def substitution_dose(med: IdentifiedMedication, dose_mg: Decimal | None) -> bool:
    """True when a sublingual buprenorphine dose (mg at one administration) is a substitution dose (2 mg+)."""
    product = med.product
    if med.ingredient != "buprenorphine" or product is None or product.route != "sublingual":
        return False
    return dose_mg is not None and dose_mg >= SUBSTITUTION_DOSE_MG
