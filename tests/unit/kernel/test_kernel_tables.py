"""Each service's migrations create exactly the kernel tables the store queries (``tables.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.db import make_engine
from shared.db.migrate import migrate
from shared.fhir import kernel_metadata

SERVICES = Path(__file__).resolve().parents[3] / "services"


def _kernel_table(diff: object) -> str | None:
    """The kernel table a difference concerns, or None for another table (the service's own)."""
    while isinstance(diff, list) and diff:  # column-level differences come wrapped in a list
        diff = diff[0]
    for part in diff if isinstance(diff, tuple) else ():
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        for candidate in (getattr(table, "name", None), name, part if isinstance(part, str) else None):
            if isinstance(candidate, str) and candidate in kernel_metadata.tables:
                return candidate
    return None


@pytest.mark.parametrize("service", ["referral", "careplan", "medreview", "gpconnect"])
def test_the_migrations_create_the_kernel_tables_the_store_declares(service: str, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    try:
        migrate(SERVICES / service / "migrations", engine)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), kernel_metadata)
        assert [d for d in diffs if _kernel_table(d) is not None] == []
        assert set(kernel_metadata.tables) <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_column_the_migrations_lack_is_reported(tmp_path: Path) -> None:
    """The comparison above can fail: a kernel column no migration creates is a difference it names."""
    declared = sa.MetaData()
    for table in kernel_metadata.tables.values():
        table.to_metadata(declared)
    declared.tables["fhir_request"].append_column(sa.Column("not_migrated", sa.String(8), nullable=True))
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    try:
        migrate(SERVICES / "referral" / "migrations", engine)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), declared)
        assert [_kernel_table(d) for d in diffs if _kernel_table(d)] == ["fhir_request"]
    finally:
        engine.dispose()
