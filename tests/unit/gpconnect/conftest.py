from __future__ import annotations

from typing import Any

import pytest

from tests.unit.gpconnect.records import load_fixture


@pytest.fixture
def opioid_record() -> dict[str, Any]:
    return load_fixture("gpc-structured-opioid-record.json")


@pytest.fixture
def amended_dosage_record() -> dict[str, Any]:
    return load_fixture("gpc-structured-amended-dosage.json")


@pytest.fixture
def deliveries(tmp_path):
    from tests.unit.gpconnect.deliveries import harness

    yield from harness(tmp_path)
