"""The service evaluation's facts table (referrals, invitations, enrolments, discharges, OME reviews).

Revision ID: careplan_0003
Revises: careplan_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "careplan_0003"
down_revision = "careplan_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "careplan_evaluation_fact",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("practice", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("subject", sa.String(140), nullable=False),
        sa.Column("patient", sa.String(80), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Numeric(12, 3), nullable=True),
        sa.UniqueConstraint("kind", "subject", name="uq_careplan_fact_kind_subject"),
    )
    op.create_index(
        "ix_careplan_fact_practice_kind", "careplan_evaluation_fact", ["practice", "kind", "occurred_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_careplan_fact_practice_kind", table_name="careplan_evaluation_fact")
    op.drop_table("careplan_evaluation_fact")
