"""The kernel's enrolment table: service staff see only patients enrolled with their practices.

Episodes of care already stored are recorded: active ones enrolled, finished ones discharged.

Revision ID: referral_0004
Revises: referral_0003
"""

import orjson
import sqlalchemy as sa
from alembic import op

from shared.fhir.schema import create_enrolment_table_v2, drop_enrolment_table_v2

revision = "referral_0004"
down_revision = "referral_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_enrolment_table_v2(op)
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, practice, patient, last_updated, content FROM fhir_resource"
            " WHERE resource_type = 'EpisodeOfCare' AND deleted = :no AND patient IS NOT NULL"
        ),
        {"no": False},
    ).all()
    enrolment = sa.table(
        "fhir_enrolment",
        sa.column("practice"),
        sa.column("patient"),
        sa.column("episode"),
        sa.column("enrolled_at", sa.DateTime(timezone=True)),
        sa.column("discharged_at", sa.DateTime(timezone=True)),
    )
    values = [
        {
            "practice": row.practice,
            "patient": row.patient,
            "episode": f"EpisodeOfCare/{row.id}",
            "enrolled_at": row.last_updated,
            "discharged_at": row.last_updated
            if orjson.loads(row.content).get("status") in ("finished", "cancelled", "entered-in-error")
            else None,
        }
        for row in rows
    ]
    if values:
        op.bulk_insert(enrolment, values)


def downgrade() -> None:
    drop_enrolment_table_v2(op)
