"""Resources a service publishes are read and searched by every practice and written by none."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from shared.db import make_engine
from shared.fhir import kernel_metadata
from shared.fhir.published import seed_published
from shared.fhir.store import ResourceStore
from tests.support.kernel import FHIR, build_kernel, kernel_app

CODES = {
    "resourceType": "CodeSystem",
    "id": "intervention",
    "url": "https://pain-review.example.org/fhir/CodeSystem/intervention",
    "name": "Intervention",
    "status": "active",
    "content": "complete",
    "concept": [{"code": "pacing", "display": "Pacing"}],
}


def test_a_published_code_system_is_shared_read_only_and_seeded_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'published.db'}")
    kernel_metadata.create_all(engine)
    kernel = build_kernel(engine)
    kernel.store = ResourceStore(shared_types={"CodeSystem"})
    kernel.resource("CodeSystem")
    assert seed_published(engine, kernel.store, [CODES]) == 1
    assert seed_published(engine, kernel.store, [CODES]) == 0  # unchanged: no new version
    changed = {**CODES, "concept": [*CODES["concept"], {"code": "sleep", "display": "Sleep hygiene"}]}
    assert seed_published(engine, kernel.store, [changed]) == 1
    with TestClient(kernel_app(kernel, title="t")) as client:
        for practice in ("A81001", "B82002"):
            headers = {"x-test-practice": practice, **FHIR}
            assert (
                client.get("/fhir/CodeSystem/intervention", headers=headers).json()["meta"]["versionId"]
                == "2"
            )
            found = client.get("/fhir/CodeSystem", params={"url": CODES["url"]}, headers=headers).json()
            assert found["total"] == 1
            assert client.put("/fhir/CodeSystem/intervention", json=CODES, headers=headers).status_code == 404
            assert client.delete("/fhir/CodeSystem/intervention", headers=headers).status_code == 404
        own = {**CODES, "id": "mine", "url": "https://a81001.example/CodeSystem/local"}
        headers = {"x-test-practice": "A81001", **FHIR}
        assert (
            client.put("/fhir/CodeSystem/mine", json=own, headers=headers).status_code == 404
        )  # no PUT-create
        assert client.post("/fhir/CodeSystem", json=own, headers=headers).status_code == 201
        other = {"x-test-practice": "B82002"}
        assert client.get("/fhir/CodeSystem", headers=other).json()["total"] == 1  # the shared one only
    engine.dispose()
