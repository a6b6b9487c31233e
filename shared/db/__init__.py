"""Database plumbing every service shares: engines, transactions, migrations."""

from shared.db.engine import is_postgres, is_sqlite, make_engine, sqlite_path_for
from shared.db.migrate import downgrade, migrate, migration_config
from shared.db.times import as_utc

__all__ = [
    "as_utc",
    "downgrade",
    "is_postgres",
    "is_sqlite",
    "make_engine",
    "migrate",
    "migration_config",
    "sqlite_path_for",
]
