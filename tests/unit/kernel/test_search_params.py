"""Search parameters belong to a kernel: a parameter one service declares is indexed, searchable and
advertised by that service's kernel only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shared.db import make_engine
from shared.fhir import kernel_metadata
from shared.fhir.searchparams import SearchParams
from tests.support.kernel import build_kernel, kernel_client

FHIR = {"content-type": "application/fhir+json"}
FLAG = {
    "resourceType": "Flag",
    "status": "active",
    "code": {"text": "Synthetic flag"},
    "subject": {"reference": "Patient/p-1"},
}


def client_for(tmp_path: Path, name: str, *, declare: bool) -> TestClient:
    engine = make_engine(f"sqlite:///{tmp_path / name}.db")
    kernel_metadata.create_all(engine)
    kernel = build_kernel(engine, name, resources=())
    if declare:
        kernel.search_param("Flag", "patient", "reference", "subject", doc="The flagged patient")
    kernel.resource("Flag")
    return kernel_client(kernel, title=name)


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    with (
        client_for(tmp_path, "declares", declare=True) as declares,
        client_for(tmp_path, "plain", declare=False) as plain,
    ):
        yield declares, plain


def flag_params(client: TestClient) -> list[str]:
    statement = client.get("/fhir/metadata").json()
    [flag] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Flag"]
    return sorted(p["name"] for p in flag.get("searchParam", ()))


def test_a_declared_parameter_is_indexed_searched_and_advertised_by_its_kernel_only(
    clients: tuple[TestClient, TestClient],
) -> None:
    declares, plain = clients
    for client in (declares, plain):
        assert client.post("/fhir/Flag", json=FLAG, headers=FHIR).status_code == 201
    found = declares.get("/fhir/Flag", params={"patient": "Patient/p-1"})
    assert found.status_code == 200 and found.json()["total"] == 1
    refused = plain.get("/fhir/Flag", params={"patient": "Patient/p-1"})
    assert refused.status_code == 400  # an unknown parameter is refused, never ignored
    assert "patient" in flag_params(declares)
    assert "patient" not in flag_params(plain)


def test_the_standard_parameters_are_a_fresh_registry_each_time() -> None:
    mine = SearchParams.standard()
    mine.add("Flag", "patient", "reference", "subject")
    assert "patient" in mine.of("Flag")
    assert "patient" not in SearchParams.standard().of("Flag")
    assert {"_id", "_lastUpdated", "status", "patient"} <= set(SearchParams.standard().of("Task"))
