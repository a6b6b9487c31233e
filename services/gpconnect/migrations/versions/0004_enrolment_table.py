"""The kernel's enrolment table: service staff see only patients enrolled with their practices.

Starts empty: this service keeps no earlier record of enrolment.

Revision ID: gpconnect_0004
Revises: gpconnect_0003
"""

from alembic import op

from shared.fhir.schema import create_enrolment_table_v2, drop_enrolment_table_v2

revision = "gpconnect_0004"
down_revision = "gpconnect_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_enrolment_table_v2(op)


def downgrade() -> None:
    drop_enrolment_table_v2(op)
