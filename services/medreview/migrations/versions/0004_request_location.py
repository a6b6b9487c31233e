"""The kernel's request table keeps where an accepted create was stored: a repeat's 409 carries it. And
resources stored before every patient reference was resolved get their patient recorded (staff tenancy).

Revision ID: medreview_0004
Revises: medreview_0003
"""

from alembic import op

from shared.fhir.schema import add_request_location_v3, backfill_patients_v3, drop_request_location_v3

revision = "medreview_0004"
down_revision = "medreview_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_request_location_v3(op)
    backfill_patients_v3(op)


def downgrade() -> None:
    drop_request_location_v3(op)
