"""UK codeine and dihydrocodeine brands, over the counter and on prescription, are always opioids.

A pharmacist's review found Propain Plus tablets and Propain Caplets (codeine with paracetamol) counted as
non-opioids, the total complete. Every brand here must be an opioid: computed when the product data has its
strength from a named source (dm+d name, or an SmPC named in dmd-opioid-products.csv), else
``unrecognised-opioid-product`` with the total "at least", never zero.

Brands (the review's list): Propain, Solpadeine Plus and Max, Syndol, Migraleve, Paramol, Panadol Ultra,
Feminax, Codis, Veganin, Cuprofen Plus, Nurofen Plus, Mersyndol, Remedeine, Tylex, Kapake, Zapain, Solpadol,
Co-codaprin.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shared.medicines.ome import OmeReason, oral_morphine_equivalent
from shared.terminology import DrugClass

BRANDS = [
    "Propain Plus tablets",
    "Propain Caplets",
    "Propain",
    "Solpadeine Plus tablets",
    "Solpadeine Max tablets",
    "Syndol tablets",
    "Migraleve Pink tablets",
    "Migraleve Yellow tablets",
    "Migraleve",
    "Paramol tablets",
    "Panadol Ultra tablets",
    "Feminax tablets",
    "Codis 500 dispersible tablets",
    "Veganin tablets",
    "Cuprofen Plus tablets",
    "Nurofen Plus tablets",
    "Mersyndol tablets",
    "Remedeine tablets",
    "Remedeine Forte tablets",
    "Tylex capsules",
    "Kapake tablets",
    "Zapain tablets",
    "Solpadol caplets",
    "Co-codaprin tablets",
    "SOLPADEINE MAX",
    "syndol headache relief",
]


def _request(name: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": {"text": name},
        "dosageInstruction": [{"text": text}],
    }


@pytest.mark.parametrize("name", BRANDS)
def test_a_uk_codeine_or_dihydrocodeine_brand_is_never_counted_as_a_non_opioid(name: str) -> None:
    result = oral_morphine_equivalent([_request(name, "2 qds")])
    [med] = result.medications
    assert med.identified is not None and med.identified.drug_class is DrugClass.OPIOID
    assert med.ingredient in ("codeine", "dihydrocodeine")
    if med.computable:
        product = med.identified.product
        assert product is not None and product.source, "a strength used comes from a named source"
        assert med.ome_mg_per_day and med.ome_mg_per_day > 0
    else:
        assert med.reason_code == OmeReason.UNRECOGNISED_OPIOID
        assert result.incomplete and result.total_mg_per_day == 0  # "at least", never a complete zero


@pytest.mark.parametrize(
    ("name", "text", "ome", "why"),
    [
        (
            "Propain Plus tablets",
            "2 qds",
            "8",
            "SmPC: codeine phosphate 10 mg a tablet; 2 x 4 = 8 tablets = 80 mg; codeine x 0.1 = 8",
        ),
        (
            "Propain Caplets",
            "1-2 every 4 hours max 10 in 24 hours",
            "10",
            "SmPC: codeine phosphate 10 mg a caplet; 2 x 6 = 12 capped at 10 caplets = 100 mg; x 0.1 = 10",
        ),
    ],
)
def test_propain_is_computed_from_its_smpc_strength(name: str, text: str, ome: str, why: str) -> None:
    result = oral_morphine_equivalent([_request(name, text)])
    [med] = result.medications
    assert med.computable and not result.incomplete, why
    assert med.ome_mg_per_day == Decimal(ome), why


def test_a_propain_name_that_is_not_its_exact_product_name_is_an_opioid_at_least() -> None:
    # "Propain 32 tablets" names no product with a sourced strength: an opioid, not counted, "at least"
    result = oral_morphine_equivalent([_request("Propain 32 tablets", "2 qds")])
    [med] = result.medications
    assert med.reason_code == OmeReason.UNRECOGNISED_OPIOID and result.incomplete
