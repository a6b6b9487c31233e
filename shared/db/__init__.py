"""Database plumbing every service shares: engines, transactions, migrations."""

from shared.db.engine import is_postgres, is_sqlite, make_engine, sqlite_path_for
from shared.db.migrate import downgrade, migrate, migration_config

__all__ = [
    "downgrade",
    "is_postgres",
    "is_sqlite",
    "make_engine",
    "migrate",
    "migration_config",
    "sqlite_path_for",
]
