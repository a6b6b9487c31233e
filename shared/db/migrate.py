"""Alembic, driven from code: one migration history per service, run at start-up and by the CLI."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def migration_config(migrations_dir: Path, engine: Engine) -> Config:
    """An alembic Config for one service's ``migrations/`` folder bound to ``engine``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(migrations_dir: Path, engine: Engine, revision: str = "head") -> None:
    command.upgrade(migration_config(migrations_dir, engine), revision)


def downgrade(migrations_dir: Path, engine: Engine, revision: str = "base") -> None:
    command.downgrade(migration_config(migrations_dir, engine), revision)
