"""The search index's lookup covers what a search reads (``resource_id`` included), and on SQLite the
planner is given statistics of the kernel's indexes, so a search fetches the resources its index lookup
names by primary key instead of walking every resource of the type (``SQLITE_PLANNER_STATS_V4`` in
shared/fhir/schema.py; PostgreSQL keeps its own).

Revision ID: referral_0006
Revises: referral_0005
"""

from alembic import op

from shared.fhir.schema import (
    cover_search_lookup_v4,
    drop_sqlite_planner_stats_v4,
    seed_sqlite_planner_stats_v4,
    uncover_search_lookup_v4,
)

revision = "referral_0006"
down_revision = "referral_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    cover_search_lookup_v4(op)
    seed_sqlite_planner_stats_v4(op)


def downgrade() -> None:
    drop_sqlite_planner_stats_v4(op)
    uncover_search_lookup_v4(op)
