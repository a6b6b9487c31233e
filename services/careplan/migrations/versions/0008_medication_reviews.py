"""Each medication review's total OME and risk flags (``medreview.completed``), for the monthly MDT agenda.

Revision ID: careplan_0008
Revises: careplan_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "careplan_0008"
down_revision = "careplan_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "careplan_medication_review",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("practice", sa.String(16), nullable=False),
        sa.Column("patient", sa.String(80), nullable=False),
        sa.Column("review", sa.String(140), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_ome", sa.Numeric(12, 3), nullable=True),
        sa.Column("lower_bound", sa.Boolean, nullable=False),
        sa.Column("flags", sa.String(400), nullable=False),
        sa.UniqueConstraint("review", name="uq_careplan_medication_review"),
    )
    op.create_index(
        "ix_careplan_medication_review_patient",
        "careplan_medication_review",
        ["practice", "patient", "reviewed_at"],
    )
    # Reviews heard of before this table: their totals from the evaluation's facts (a NULL value was a
    # lower bound, kept as no figure); their risk flags were not kept, so they come with the next review.
    op.execute(
        "INSERT INTO careplan_medication_review"
        " (practice, patient, review, reviewed_at, total_ome, lower_bound, flags)"
        " SELECT practice, patient, subject, occurred_at, value, value IS NULL, ''"
        " FROM careplan_evaluation_fact WHERE kind = 'ome' AND patient IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_careplan_medication_review_patient", table_name="careplan_medication_review")
    op.drop_table("careplan_medication_review")
