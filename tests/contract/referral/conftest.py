"""The whole embedded system in-process, driven as a GP system and a project worker would drive it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem, create_embedded_system
from tests.support.referral import Referral


@pytest.fixture(scope="module")
def embedded_referral(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmbeddedSystem, TestClient]]:
    var_dir: Path = tmp_path_factory.mktemp("var")
    system = create_embedded_system(var_dir, rate_per_minute=1_000_000, rate_burst=100_000)
    with TestClient(system.app) as client:
        yield system, client
    for parts in system.services.values():
        parts.engine.dispose()


_practices = iter(f"R{n:05d}" for n in range(10_000, 99_999))


@pytest.fixture
def referral(embedded_referral: tuple[EmbeddedSystem, TestClient]) -> Referral:
    """A fresh practice for each test: nothing another test wrote is visible to it."""
    system, client = embedded_referral
    return Referral(system, client, next(_practices))
