"""How a dm+d product is recognised (an opioid, a special product, a known product), and
OpenPrescribing's opioid table, for the product-coverage tests and the README's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.medicines.identify import identify_medication
from shared.medicines.special import special_product
from shared.terminology import DrugClass, load_product_catalogue

OPENPRESCRIBING = (
    Path(__file__).parents[2] / "shared/terminology/data/openprescribing-opioid-ing-form-ome.csv"
)


def product_outcome(concept: dict[str, Any]) -> str:
    med = identify_medication({"resourceType": "MedicationRequest", "medicationCodeableConcept": concept},
                              load_product_catalogue())  # fmt: skip
    if med.drug_class is not DrugClass.OPIOID:
        return "not recognised as an opioid"
    special = special_product(med)
    if special is not None:
        return special[0]
    return "product known" if med.product is not None else "unrecognised-opioid-product"
