"""One OME engine: `$screen`, `$medication-review`, CDS Hooks, taper planning and the evaluation compute OME
only through ``shared.medicines.ome.oral_morphine_equivalent`` and the data it reads; no second estimate.

1. No module outside ``shared.medicines`` and ``shared.terminology`` reads an OME factor table, looks a factor
   up, or names a factor file (a source scan, so a new second estimate fails here).
2. The same prescriptions give the same figure through the review and through the referral screen.
"""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.medreview.domain.ome import oral_morphine_equivalent as review_engine
from services.referral.domain.eligibility.model import MedicineRecord
from services.referral.domain.screening import daily_ome_mg
from shared.medicines import ome as engine

ROOT = Path(__file__).parents[3]
FORBIDDEN_NAMES = {"load_ome_factor_table", "factor_for", "OmeFactorTable", "OmeFactor", "medication_ome"}
FACTOR_FILES = ("ome-factors", "opioid-ing-form-ome")
ALLOWED = ("shared/medicines/", "shared/terminology/", "services/medreview/domain/ome.py")


def _sources() -> list[Path]:
    return [
        p
        for top in ("services", "shared", "painreview")
        for p in sorted((ROOT / top).rglob("*.py"))
        if not str(p.relative_to(ROOT)).startswith(ALLOWED)
    ]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_the_engine_reads_or_looks_up_an_ome_factor(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        name = (
            node.id if isinstance(node, ast.Name)
            else node.attr if isinstance(node, ast.Attribute)
            else node.name if isinstance(node, ast.alias)
            else None
        )  # fmt: skip
        assert name not in FORBIDDEN_NAMES, f"{path}:{getattr(node, 'lineno', '?')}: {name}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not any(f in node.value for f in FACTOR_FILES), f"{path}: names a factor file"


def test_the_review_re_exports_the_one_engine() -> None:
    assert review_engine is engine.oral_morphine_equivalent


def _request(name: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": {"text": name},
        "dosageInstruction": [{"text": text}],
    }


@pytest.mark.parametrize(
    ("name", "text", "ome"),
    [
        ("Oxycodone 5mg capsules", "one four times a day", "30"),  # 5 x 4 = 20 mg x 1.5
        ("Co-codamol 30mg/500mg tablets", "two qds", "24"),  # 2 x 30 x 4 = 240 mg x 0.1
        ("Fentanyl 25micrograms/hour transdermal patches", "one every 72 hours", "60"),  # 25 x 2.4
        ("Morphine sulfate 10mg/5ml oral solution", "5ml every 4 hours", "60"),  # 10 mg x 6
    ],
)
def test_the_referral_screen_and_the_review_give_the_same_figure(name: str, text: str, ome: str) -> None:
    resource = _request(name, text)
    reviewed = review_engine([resource])
    assert reviewed.total_mg_per_day == Decimal(ome) and not reviewed.incomplete
    record = MedicineRecord(name.lower(), frozenset(), frozenset({"opioid"}), True, None, resource=resource)
    assert daily_ome_mg(record) == float(ome)
