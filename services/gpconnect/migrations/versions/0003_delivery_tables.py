"""gpconnect's own tables: practice configuration, known patients, deliveries to GP systems.

Revision ID: gpconnect_0003
Revises: gpconnect_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "gpconnect_0003"
down_revision = "gpconnect_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    identity = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "gp_practice",
        sa.Column("ods", sa.String(12), primary_key=True),
        sa.Column("supplier", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(512), nullable=False),
        sa.Column("credentials_ref", sa.String(128), nullable=False, server_default=""),
        sa.Column("mesh_mailbox", sa.String(20), nullable=False, server_default=""),
        sa.Column("bars_endpoint", sa.String(512), nullable=False, server_default=""),
        sa.Column("allow_private", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "gp_patient",
        sa.Column("practice", sa.String(16), primary_key=True),
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("nhs_number", sa.String(10), nullable=False),
    )
    op.create_table(
        "gp_delivery",
        sa.Column("id", identity, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(160), nullable=False),
        sa.Column("practice", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("remote_ref", sa.String(160), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_gp_delivery_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_gp_delivery_due", "gp_delivery", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_gp_delivery_due", table_name="gp_delivery")
    op.drop_table("gp_delivery")
    op.drop_table("gp_patient")
    op.drop_table("gp_practice")
