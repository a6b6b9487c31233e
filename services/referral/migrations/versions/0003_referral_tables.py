"""The referral service's own tables: BaRS messages, the sender's resource ids, invitation templates.

Revision ID: referral_0003
Revises: referral_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "referral_0003"
down_revision = "referral_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bars_message",
        sa.Column("practice", sa.String(16), primary_key=True),
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("service_request_id", sa.String(64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("header", sa.Text, nullable=False),
    )
    op.create_index("ix_bars_message_service_request", "bars_message", ["service_request_id"])
    op.create_table(
        "bars_resource",
        sa.Column("practice", sa.String(16), primary_key=True),
        sa.Column("sender_url", sa.String(255), primary_key=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "invitation_template",
        sa.Column("practice", sa.String(16), primary_key=True),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("invitation_template")
    op.drop_table("bars_resource")
    op.drop_index("ix_bars_message_service_request", table_name="bars_message")
    op.drop_table("bars_message")
