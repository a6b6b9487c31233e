"""The frozen v1 migration step creates exactly the tables the code queries, on PostgreSQL too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations

from shared.db import make_engine
from shared.outbox import create_outbox_tables_v1, drop_outbox_tables_v1, metadata

pytestmark = pytest.mark.integration


def test_the_v1_migration_matches_the_table_metadata_on_postgresql(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1)
    try:
        with engine.begin() as conn:
            create_outbox_tables_v1(Operations(MigrationContext.configure(conn)))
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            [pending] = [
                i for i in sa.inspect(conn).get_indexes("outbox") if i["name"] == "ix_outbox_pending"
            ]
            assert "published_at IS NULL" in str(pending["dialect_options"]["postgresql_where"])
        with engine.begin() as conn:
            drop_outbox_tables_v1(Operations(MigrationContext.configure(conn)))
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
