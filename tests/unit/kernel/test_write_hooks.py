"""Domain hooks run inside the write's transaction: a refusal rolls the write back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from shared.db import make_engine
from shared.fhir import RequestContext, Unprocessable, kernel_metadata
from tests.support.kernel import FHIR, build_kernel, kernel_app, patient

HEADERS = {"x-test-practice": "A81001", **FHIR}


def test_a_hook_sees_each_write_and_a_refusal_leaves_nothing_behind(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    def hook(conn: Connection, ctx: RequestContext, resource: dict[str, Any], interaction: str) -> None:
        seen.append((interaction, resource["meta"]["versionId"]))
        if resource.get("gender") == "unknown":
            raise Unprocessable("gender must be known for this service")

    engine = make_engine(f"sqlite:///{tmp_path / 'hooks.db'}")
    kernel_metadata.create_all(engine)
    kernel = build_kernel(engine)
    kernel.resource("Patient", on_write=hook)
    with TestClient(kernel_app(kernel, title="t"), headers=HEADERS) as client:
        created = client.post("/fhir/Patient", json=patient()).json()
        refused = client.put(f"/fhir/Patient/{created['id']}", json={**created, "gender": "unknown"})
        assert refused.status_code == 422
        assert client.get(f"/fhir/Patient/{created['id']}").json()["meta"]["versionId"] == "1"
        assert client.get(f"/fhir/Patient/{created['id']}/_history").json()["total"] == 1
        assert client.delete(f"/fhir/Patient/{created['id']}").status_code == 204
    engine.dispose()
    assert seen == [("create", "1"), ("update", "2"), ("delete", "1")]
