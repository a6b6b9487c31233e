"""The event backbone's tables: outbox, inbox and dead letters.

Revision ID: referral_0002
Revises: referral_0001
"""

from alembic import op

from shared.outbox import create_outbox_tables_v1, drop_outbox_tables_v1

revision = "referral_0002"
down_revision = "referral_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_tables_v1(op)


def downgrade() -> None:
    drop_outbox_tables_v1(op)
