"""A patch brand changed at another interval than the dm+d VMP it shares is stepped at its own.

Hapoctasin 35, 52.5 and 70 micrograms/hour release over 72 hours (SmPC section 2; leaflet: change the patch
"72 hours (3 days) later"), but their AMPs are the VMPs Transtec's are, 96-hour patches changed twice weekly
(dmd-opioid-codes.csv; dmd-opioid-products.csv: 96). A Hapoctasin prescription "every 72 hours" was refused
as changed at another interval than its product's (a pharmacist's review, 2026-12-07), and one "every 4
days" was stepped at 96 hours. Patches: 2.4 mg OME a day per microgram/hour (Opioids Aware).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from services.medreview.domain.taper import TaperPolicy
from services.medreview.workflow import on_medication_list_synced, propose_taper
from shared.contracts import MEDICATION_LIST_SYNCED_V1
from shared.fhir import Unprocessable
from shared.terminology import load_product_catalogue
from tests.unit.medreview.medreview_support import NOW, Harness, database, medicine, patient_bundle

START = date(2026, 3, 2)
HAPOCTASIN_70 = "Hapoctasin 70micrograms/hour transdermal patches"


@pytest.fixture
def mr(medreview_db_url: str) -> Iterator[Harness]:
    harness = Harness(database(medreview_db_url))
    yield harness
    harness.engine.dispose()


def _first_step(mr: Harness, name: str, text: str) -> dict[str, object]:
    gp = patient_bundle("p1", medicine("x", name, text))
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp, time=NOW)
    careplan = mr.api(lambda s: propose_taper(s, "Patient/p1", TaperPolicy(), START, "uk-opioids-aware"))
    step = next(st for st in mr.steps(careplan) if st.proposal)
    assert step.proposal is not None
    return mr.read(step.proposal)


def test_hapoctasin_every_72_hours_is_stepped_at_72_hours() -> None:
    catalogue = load_product_catalogue()
    product = catalogue.lookup("35913911000001101")  # the VMP Hapoctasin 70 and Transtec 70 share
    assert product is not None and product.patch_change_hours == 96
    assert catalogue.patch_change_hours_of(product, HAPOCTASIN_70) == 72
    assert catalogue.patch_change_hours_of(product, "Transtec 70micrograms/hour transdermal patches") == 96


def test_a_hapoctasin_taper_says_every_72_hours(mr: Harness) -> None:
    """Hapoctasin 70 every 72 hours: 70 x 2.4 = 168 mg OME; the first step is the 52.5 patch (126: 42 off,
    within 30% of 168 = 50.4), changed every 72 hours, by the brand (BNF: patches by brand)."""
    request = _first_step(mr, HAPOCTASIN_70, "apply one patch every 72 hours")
    dosage = request["dosageInstruction"][0]  # type: ignore[index]
    assert "changed every 72 hours" in dosage["text"] and "52.5" in dosage["text"], dosage
    assert dosage["timing"]["repeat"]["period"] == 72
    assert "Hapoctasin" in request["medicationCodeableConcept"]["text"]  # type: ignore[index]


def test_hapoctasin_prescribed_every_4_days_is_refused(mr: Harness) -> None:
    """Every 4 days (96 hours) is not Hapoctasin's 72: the prescription is to be checked, not stepped."""
    with pytest.raises(Unprocessable, match="every 96 hours by its prescription, the product every 72"):
        _first_step(mr, HAPOCTASIN_70, "apply one patch every 4 days")
