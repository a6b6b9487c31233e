"""Every figure services/medreview/README.md states is computed here from the data and must be written there.

So a product, a corpus row or a factor added without the README following fails here, not silently.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from shared.medicines.products import ingredient_in
from shared.terminology import DEFAULT_OME_FACTOR_TABLE, load_ome_factor_table, load_product_catalogue
from tests.support.medicines import OPENPRESCRIBING, product_outcome

ROOT = Path(__file__).parents[3]
README = " ".join((ROOT / "services/medreview/README.md").read_text(encoding="utf-8").split())
HAZARD_LOG = " ".join((ROOT / "docs/clinical-safety/hazard-log.md").read_text(encoding="utf-8").split())
HERE = Path(__file__).parent


def _rows(name: str) -> int:
    with (HERE / name).open(encoding="utf-8") as handle:
        return len(list(csv.DictReader(line for line in handle if not line.startswith("#"))))


def _stated(fragment: str) -> None:
    assert fragment in README, f"README should say: {fragment!r}"


def test_the_corpus_and_held_out_sizes_are_the_tables() -> None:
    _stated(f"a corpus of {_rows('dose_corpus.csv')} UK prescriptions")
    _stated(f"a pharmacist's held-out set of {_rows('heldout_pharmacist.csv')}")
    # and the hazard log's control C1.3 says the same
    assert f"{_rows('dose_corpus.csv')} prescriptions worked by hand" in HAZARD_LOG
    assert f"a pharmacist's held-out {_rows('heldout_pharmacist.csv')}" in HAZARD_LOG


def test_the_dmd_coverage_figures_are_the_datas() -> None:
    codes = load_product_catalogue().opioid_codes.values()
    for by in ("code", "name"):
        outcomes = Counter(
            product_outcome({"coding": [{"system": "http://snomed.info/sct", "code": c.code}]} if by == "code"
                     else {"text": c.term})
            for c in codes
        )  # fmt: skip
        total = sum(outcomes.values())
        assert outcomes["not recognised as an opioid"] == 0  # "100% are recognised as opioids"
        computable, fentanyl = outcomes["product known"], outcomes["transmucosal-fentanyl"]
        unrecognised = outcomes["unrecognised-opioid-product"]
        _stated(f"of the {total:,} dm+d opioid VMPs and AMPs")
        _stated("100% are recognised as opioids by code and by name alone")
        resolved = (computable + fentanyl) / total
        _stated(
            f"{resolved:.1%} resolve to a product ({computable:,} computable, {fentanyl} transmucosal "
            f"fentanyl), {unrecognised} ({unrecognised / total:.1%}:"
        )


def test_the_openprescribing_and_vtm_figures_are_the_datas() -> None:
    catalogue = load_product_catalogue()
    table = load_ome_factor_table(DEFAULT_OME_FACTOR_TABLE)
    with OPENPRESCRIBING.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with_factor = 0
    for row in rows:
        found = ingredient_in(row["nm"], catalogue)
        assert found is not None
        factor = table.factor_for(found[0], row["form"])
        with_factor += factor is not None and factor.factor is not None
    _stated(f"All {len(rows)} ingredient-by-route rows of OpenPrescribing's opioid OME table")
    _stated(f"{with_factor} of them have a factor in the UK table here")
    _stated(f"the {len({v.code for v in catalogue.vtms.values()})} dm+d VTMs with an opioid ingredient")
