"""The frozen v1 migration step creates exactly the tables the code queries."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations

from shared.db import make_engine
from shared.outbox import create_outbox_tables_v1, drop_outbox_tables_v1, metadata


def test_the_v1_migration_matches_the_table_metadata_on_sqlite(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    try:
        with engine.begin() as conn:
            create_outbox_tables_v1(Operations(MigrationContext.configure(conn)))
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("outbox")}
        assert "ix_outbox_pending" in indexes
        with engine.begin() as conn:
            drop_outbox_tables_v1(Operations(MigrationContext.configure(conn)))
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_outbox_sequences_are_never_reused_on_sqlite(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    try:
        metadata.create_all(engine)
        with engine.connect() as conn:
            ddl = conn.exec_driver_sql("select sql from sqlite_master where name = 'outbox'").scalar()
        assert "AUTOINCREMENT" in ddl
    finally:
        engine.dispose()
