"""The evaluation's facts keep why a medication review's total OME is not a figure (a lower bound).

Revision ID: careplan_0007
Revises: careplan_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "careplan_0007"
down_revision = "careplan_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("careplan_evaluation_fact", sa.Column("note", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("careplan_evaluation_fact", "note")
