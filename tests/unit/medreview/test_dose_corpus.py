"""The dose corpus: every realistic UK prescription in dose_corpus.csv gives its hand-worked OME or refuses.

Each row: a product (a name, or a dm+d code under SNOMED CT or dm+d), an instruction (free text, or a
structured FHIR R4 Dosage list), and the expected oral morphine equivalent in mg/day with the arithmetic
that gives it ("why"), or "not computable" with the reason code expected.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shared.medicines.ome import oral_morphine_equivalent

CORPUS = Path(__file__).with_name("dose_corpus.csv")


def _rows() -> list[dict[str, str]]:
    with CORPUS.open(encoding="utf-8") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


ROWS = _rows()


def _request(row: dict[str, str]) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if row["product"]:
        concept["text"] = row["product"]
    if row["code"]:
        concept["coding"] = [{"system": row["system"], "code": row["code"]}]
    dosage = json.loads(row["structured"]) if row["structured"] else [{"text": row["instruction"]}]
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": concept,
        "dosageInstruction": dosage,
    }


def test_the_corpus_has_at_least_300_prescriptions_of_every_kind() -> None:
    assert len(ROWS) >= 300
    assert sum(1 for r in ROWS if r["structured"]) >= 10
    assert sum(1 for r in ROWS if r["code"]) >= 10
    assert sum(1 for r in ROWS if r["expected_ome_mg_per_day"] == "not computable") >= 30
    assert all(r["why"] for r in ROWS)


@pytest.mark.parametrize(
    "row",
    ROWS,
    ids=[f"{i + 1}: {r['product'] or r['code']} | {r['instruction'][:50]}" for i, r in enumerate(ROWS)],
)
def test_each_prescription_gives_its_hand_worked_ome_or_refuses(row: dict[str, str]) -> None:
    result = oral_morphine_equivalent([_request(row)])
    [med] = result.medications
    if row["expected_ome_mg_per_day"] == "not computable":
        assert not med.computable and result.incomplete, row["why"]
        assert med.ome_mg_per_day is None
        assert med.reason_code == row["expected_reason"], (med.reason_code, med.reason)
        return
    assert med.computable, (med.reason_code, med.reason, row["why"])
    assert not result.incomplete
    expected = Decimal(row["expected_ome_mg_per_day"])
    assert med.ome_mg_per_day == expected.quantize(Decimal("0.01")), (med.dosage_basis, row["why"])
