"""The kernel's enrolment table: service staff see only patients enrolled with their practices.

Enrolments and discharges already counted as evaluation facts are recorded.

Revision ID: careplan_0004
Revises: careplan_0003
"""

import sqlalchemy as sa
from alembic import op

from shared.fhir.schema import create_enrolment_table_v2, drop_enrolment_table_v2

revision = "careplan_0004"
down_revision = "careplan_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_enrolment_table_v2(op)
    op.execute(
        sa.text(
            "INSERT INTO fhir_enrolment (practice, patient, episode, enrolled_at, discharged_at)"
            " SELECT e.practice, e.patient, e.subject, e.occurred_at,"
            " (SELECT min(d.occurred_at) FROM careplan_evaluation_fact d"
            "  WHERE d.kind = 'discharged' AND d.subject = e.subject AND d.practice = e.practice)"
            " FROM careplan_evaluation_fact e WHERE e.kind = 'enrolled' AND e.patient IS NOT NULL"
        )
    )


def downgrade() -> None:
    drop_enrolment_table_v2(op)
