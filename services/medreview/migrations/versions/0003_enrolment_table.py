"""The kernel's enrolment table: service staff see only patients enrolled with their practices.

Starts empty: this service keeps no earlier record of enrolment.

Revision ID: medreview_0003
Revises: medreview_0002
"""

from alembic import op

from shared.fhir.schema import create_enrolment_table_v2, drop_enrolment_table_v2

revision = "medreview_0003"
down_revision = "medreview_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_enrolment_table_v2(op)


def downgrade() -> None:
    drop_enrolment_table_v2(op)
