"""The whole embedded system in-process, as ``Careplan`` (``tests/support/careplan.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import create_embedded_system
from tests.support.careplan import Careplan


@pytest.fixture(scope="module")
def careplan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Careplan]:
    var_dir: Path = tmp_path_factory.mktemp("var")
    system = create_embedded_system(var_dir, rate_per_minute=1_000_000, rate_burst=100_000)
    with TestClient(system.app) as client:
        yield Careplan(system, client)
    for parts in system.services.values():
        parts.engine.dispose()
