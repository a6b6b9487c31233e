"""Published resources move from careplan's own "#service" tenant to the kernel's "#shared" one.

The catalogue, templates, questionnaire and measure are now published through the kernel (``published=``,
as referral's CodeSystems are); rows seeded before keep their ids and history under the kernel's tenant.

Revision ID: careplan_0005
Revises: careplan_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "careplan_0005"
down_revision = "careplan_0004"
branch_labels = None
depends_on = None

_TABLES = ("fhir_resource", "fhir_resource_history")


def _move(old: str, new: str) -> None:
    for table in _TABLES:
        op.execute(
            sa.text(f"UPDATE {table} SET practice = :new WHERE practice = :old").bindparams(old=old, new=new)
        )


def upgrade() -> None:
    _move("#service", "#shared")


def downgrade() -> None:
    _move("#shared", "#service")
