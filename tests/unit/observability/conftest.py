"""A small service app over SQLite (``tests/support/observability.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from shared.db import make_engine
from shared.fhir import kernel_metadata
from tests.support.observability import PRACTICE, make_app


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'obs.db'}")
    kernel_metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(make_app(engine), headers=PRACTICE) as test_client:
        yield test_client
