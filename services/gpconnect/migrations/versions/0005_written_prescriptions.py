"""The GP system's own id of each prescription change written back, so the next change names it.

Revision ID: gpconnect_0005
Revises: gpconnect_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "gpconnect_0005"
down_revision = "gpconnect_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gp_written_prescription",
        sa.Column("practice", sa.String(16), primary_key=True),
        sa.Column("our_reference", sa.String(160), primary_key=True),
        sa.Column("gp_id", sa.String(160), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gp_written_prescription")
