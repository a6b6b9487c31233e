"""medreview's handler tests run on SQLite, and on a fresh PostgreSQL database in the integration tier."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def medreview_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'medreview.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url
