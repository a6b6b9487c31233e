"""Coverage of the product data against public lists (figures stated in services/medreview/README.md).

1. Every dm+d opioid VMP and AMP of the OpenSAFELY opioid codelists (data/dmd-opioid-codes.csv),
   by its code and by its name alone: each is recognised as an opioid; most resolve to a product whose dose
   can be computed; the rest are transmucosal fentanyl (never converted) or unrecognised-opioid-product.
2. Every ingredient-by-route row of OpenPrescribing's opioid OME table (the products its opioid measures
   count): each ingredient is recognised as an opioid.

Run with ``-s`` to print the figures.
"""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from shared.medicines.products import ingredient_in
from shared.terminology import DrugClass, load_product_catalogue
from tests.support.medicines import OPENPRESCRIBING, product_outcome


@pytest.mark.parametrize("by", ["code", "name"])
def test_every_dmd_opioid_product_is_recognised_and_97_percent_resolve_to_a_product(by: str) -> None:
    codes = load_product_catalogue().opioid_codes.values()
    outcomes = Counter(
        product_outcome(
            {"coding": [{"system": "http://snomed.info/sct", "code": c.code}]}
            if by == "code"
            else {"text": c.term}
        )
        for c in codes
    )
    total = sum(outcomes.values())
    known = outcomes["product known"] + outcomes["transmucosal-fentanyl"]
    print(f"\n{by}: {total} dm+d opioid products: {dict(outcomes)}; resolved {known / total:.1%}")
    assert outcomes["not recognised as an opioid"] == 0
    assert known / total >= 0.97


def test_every_ingredient_of_openprescribings_opioid_table_is_recognised_as_an_opioid() -> None:
    with OPENPRESCRIBING.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    catalogue = load_product_catalogue()
    recognised = [r for r in rows if (a := ingredient_in(r["nm"], catalogue)) and
                  catalogue.drug_class(a[0]) is DrugClass.OPIOID]  # fmt: skip
    print(f"\nOpenPrescribing opioid OME table: {len(recognised)}/{len(rows)} rows recognised")
    assert len(recognised) == len(rows) == 51
