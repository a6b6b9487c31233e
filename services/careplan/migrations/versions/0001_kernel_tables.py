"""The FHIR kernel tables (resources, history, search index, request ids).

Revision ID: careplan_0001
Revises:
"""

from alembic import op

from shared.fhir.schema import create_kernel_tables_v1, drop_kernel_tables_v1

revision = "careplan_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kernel_tables_v1(op)


def downgrade() -> None:
    drop_kernel_tables_v1(op)
