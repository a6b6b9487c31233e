from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem, create_embedded_system
from shared.auth import mint_local_token


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedSystem, TestClient, str]]:
    var_dir: Path = tmp_path_factory.mktemp("var")
    system = create_embedded_system(var_dir)
    token = mint_local_token(system.auth, practice="A81001", scope="system/*.cruds")
    with TestClient(system.app) as client:
        yield system, client, token
    for parts in system.services.values():
        parts.engine.dispose()
