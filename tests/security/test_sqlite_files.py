"""Finding 9, files: the embedded SQLite databases were created world-readable. Replayed: every
database file of the embedded system, and its WAL and shared-memory files, is its owner's only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from painreview.embedded import create_embedded_system
from shared.db import make_engine


def _open_to_others(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.is_file() and stat.S_IMODE(p.stat().st_mode) & 0o077]


def test_the_embedded_databases_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask, under which SQLite alone makes files 0644
    try:
        system = create_embedded_system(tmp_path)
        with TestClient(system.app) as client:
            assert client.get("/healthz").status_code == 200
        for parts in system.services.values():
            parts.engine.dispose()
    finally:
        os.umask(previous)
    databases = sorted(p.name for p in tmp_path.glob("*.db"))
    assert {"referral.db", "careplan.db", "medreview.db", "gpconnect.db", "auth.db"} <= set(databases)
    assert _open_to_others(tmp_path) == []


def test_a_database_made_readable_by_others_is_closed_again_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("create table t (x integer)"))
        conn.execute(text("insert into t values (1)"))
    assert _open_to_others(tmp_path) == []
    engine.dispose()
