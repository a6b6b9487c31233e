"""Migration careplan_0008 keeps the reviews heard of before it: each OME fact becomes a medication review
(a lower bound, stored without a figure, stays without one)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select

from services.careplan.tables import evaluation_fact, medication_review
from shared.db import make_engine, migrate

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "careplan" / "migrations"


def test_the_ome_facts_before_the_migration_become_medication_reviews(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'careplan.db'}")
    try:
        migrate(MIGRATIONS, engine, "careplan_0007")
        day = datetime(2024, 2, 1, 10, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(
                insert(evaluation_fact),
                [
                    {
                        "practice": "A81001",
                        "kind": "ome",
                        "subject": "Observation/o1",
                        "patient": "Patient/p1",
                        "occurred_at": day,
                        "value": Decimal("320"),
                    },
                    {
                        "practice": "A81001",
                        "kind": "ome",
                        "subject": "Observation/o2",
                        "patient": "Patient/p2",
                        "occurred_at": day,
                        "value": None,
                    },
                    {
                        "practice": "A81001",
                        "kind": "invited",
                        "subject": "Communication/c1",
                        "patient": "Patient/p1",
                        "occurred_at": day,
                        "value": None,
                    },
                ],
            )
        migrate(MIGRATIONS, engine)
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    medication_review.c.review, medication_review.c.total_ome, medication_review.c.lower_bound
                ).order_by(medication_review.c.review)
            ).all()
        assert [(r.review, r.total_ome, bool(r.lower_bound)) for r in rows] == [
            ("Observation/o1", Decimal("320.000"), False),
            ("Observation/o2", None, True),
        ]
    finally:
        engine.dispose()
