"""Fixtures for the event backbone's unit tests: SQLite service databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bus_support import effects_metadata
from sqlalchemy import Engine

from shared.db import make_engine
from shared.outbox import metadata as outbox_metadata


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_db(tmp_path: Path) -> Iterator[Callable[[str], Engine]]:
    """A factory of per-service SQLite databases holding the outbox tables and the test effect."""
    engines: list[Engine] = []

    def make(name: str) -> Engine:
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        outbox_metadata.create_all(engine)
        effects_metadata.create_all(engine)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
