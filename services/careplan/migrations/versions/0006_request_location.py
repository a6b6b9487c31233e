"""The kernel's request table keeps where an accepted create was stored: a repeat's 409 carries it. And
resources stored before every patient reference was resolved get their patient recorded (staff tenancy).

Revision ID: careplan_0006
Revises: careplan_0005
"""

from alembic import op

from shared.fhir.schema import add_request_location_v3, backfill_patients_v3, drop_request_location_v3

revision = "careplan_0006"
down_revision = "careplan_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_request_location_v3(op)
    backfill_patients_v3(op)


def downgrade() -> None:
    drop_request_location_v3(op)
