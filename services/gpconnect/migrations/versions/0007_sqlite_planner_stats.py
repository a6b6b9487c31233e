"""On SQLite, the planner is given statistics of the kernel's indexes, so a search fetches the resources
its index lookup names by primary key instead of walking every resource of the type (see
``SQLITE_PLANNER_STATS_V4`` in shared/fhir/schema.py). Nothing changes on PostgreSQL.

Revision ID: gpconnect_0007
Revises: gpconnect_0006
"""

from alembic import op

from shared.fhir.schema import drop_sqlite_planner_stats_v4, seed_sqlite_planner_stats_v4

revision = "gpconnect_0007"
down_revision = "gpconnect_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    seed_sqlite_planner_stats_v4(op)


def downgrade() -> None:
    drop_sqlite_planner_stats_v4(op)
