"""The whole embedded system in-process, shared by medreview's contract tests (each test uses its own
patients), as ``Medreview`` (``tests/support/medreview.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import create_embedded_system
from shared.auth import mint_local_token
from tests.support.medreview import (
    PRACTICE,
    Medreview,
)


@pytest.fixture(scope="package")
def medreview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Medreview]:
    # The tests poll for effects of events: no rate limit in their way (it has tests of its own).
    system = create_embedded_system(
        tmp_path_factory.mktemp("medreview-var"), rate_per_minute=1_000_000, rate_burst=100_000
    )
    token = mint_local_token(system.auth, practice=PRACTICE, scope="system/*.cruds")
    with TestClient(system.app) as client:
        yield Medreview(system, client, token)
    for parts in system.services.values():
        parts.engine.dispose()
