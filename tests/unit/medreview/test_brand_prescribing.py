"""A modified-release opioid or a patch prescribed by brand is proposed by that brand.

BNF (prescribing modified-release opioids and transdermal patches): prescribe by brand, since brands of one
generic product differ in how often they are taken or changed (MXL's 60 mg capsule and Zomorph's are the one
dm+d VMP, once a day and twice). The brand's dm+d AMP (shared/terminology/data/dmd-opioid-codes.csv) names
each order where the brand makes its strength; where it does not, the generic product, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from services.medreview.domain.taper import TaperPolicy
from services.medreview.workflow import on_medication_list_synced, propose_taper
from shared.contracts import MEDICATION_LIST_SYNCED_V1
from shared.terminology import load_product_catalogue
from tests.unit.medreview.medreview_support import NOW, Harness, database, medicine, patient_bundle


@pytest.fixture
def mr(medreview_db_url: str) -> Iterator[Harness]:
    harness = Harness(database(medreview_db_url))
    yield harness
    harness.engine.dispose()


def first_step(mr: Harness, name: str, text: str) -> list[dict[str, object]]:
    """The first reduction's proposed MedicationRequests' medicines."""
    gp = patient_bundle("p1", medicine("x", name, text))
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp, time=NOW)
    careplan = mr.api(
        lambda s: propose_taper(s, "Patient/p1", TaperPolicy(), date(2026, 3, 2), "uk-opioids-aware")
    )
    step = next(s for s in mr.steps(careplan) if s.proposal and s.action == "reduce")
    return [mr.read(ref)["medicationCodeableConcept"] for ref in step.proposals]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        # Zomorph 60 mg twice a day: 30 + 10 + 10 mg a dose, both Zomorph AMPs (Zomorph makes 10 and 30 mg)
        ("Zomorph 60mg capsules", "one capsule twice a day", {"Zomorph 30mg modified-release capsules",
                                                             "Zomorph 10mg modified-release capsules"}),
        # Matrifen 50: step 1 is 37.5, which Matrifen is not made in: the generic fentanyl 37.5 patch
        ("Matrifen 50micrograms/hour transdermal patches", "apply one patch every 72 hours",
         {"Fentanyl 37.5microgram/hour transdermal patches"}),
        # BuTrans 20 (7-day): step 1 is 15, BuTrans 15
        ("BuTrans 20micrograms/hour transdermal patches", "apply one patch every 7 days",
         {"BuTrans 15micrograms/hour transdermal patches"}),
        # a generic name: the generic product, as before
        ("Morphine sulfate 60mg modified-release tablets", "one twice a day",
         {"Morphine 30mg modified-release tablets", "Morphine 15mg modified-release tablets",
          "Morphine 10mg modified-release tablets"}),
    ],
)  # fmt: skip
def test_a_product_prescribed_by_brand_is_proposed_by_that_brand_where_it_makes_the_strength(
    mr: Harness, name: str, text: str, expected: set[str]
) -> None:
    catalogue = load_product_catalogue()
    concepts = first_step(mr, name, text)
    assert {str(c["text"]) for c in concepts} <= expected and concepts
    for concept in concepts:
        [coding] = concept["coding"]  # type: ignore[misc]
        entry = catalogue.opioid_codes.get(coding["code"])
        assert entry is not None and entry.term == concept["text"] == coding["display"]
