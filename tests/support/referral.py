"""Referral in the embedded system: a client for one practice's referral API, its outbox and Tasks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select

from painreview.embedded import EmbeddedSystem
from shared.auth import mint_local_token
from shared.outbox import outbox

FHIR = "application/fhir+json"


@dataclass
class Referral:
    """The referral service of an embedded system, with a GP system's token for one practice."""

    system: EmbeddedSystem
    client: TestClient
    practice: str

    @property
    def endpoint(self) -> str:
        return self.system.services["referral"].settings.bars_endpoint  # type: ignore[attr-defined,no-any-return]

    def token(
        self, scope: str = "system/*.cruds", practice: str | None = None, role: str = "gp-system"
    ) -> str:
        return mint_local_token(self.system.auth, practice=practice or self.practice, scope=scope, role=role)

    def headers(self, request_id: str | None = "new", **extra: str) -> dict[str, str]:
        """Bearer token, FHIR JSON, and an X-Request-Id: a fresh one, the one given, or none (None)."""
        headers = {"authorization": f"Bearer {self.token()}", "content-type": FHIR}
        if request_id is not None:
            headers["x-request-id"] = str(uuid.uuid4()) if request_id == "new" else request_id
        return {**headers, **{k.replace("_", "-"): v for k, v in extra.items()}}

    def post(self, path: str, body: Any, request_id: str | None = "new", **headers: str) -> Any:
        return self.client.post(
            f"/referral/fhir/{path}", content=orjson.dumps(body), headers=self.headers(request_id, **headers)
        )

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/referral/fhir/{path}", params=params, headers=self.headers())

    def events(self, *types: str) -> list[dict[str, Any]]:
        """This practice's outbox, oldest first: each event's envelope (``type``, ``subject``, ``data``)."""
        query = select(outbox.c.payload).where(outbox.c.practice == self.practice).order_by(outbox.c.sequence)
        with self.system.services["referral"].engine.connect() as conn:
            found = [orjson.loads(row.payload) for row in conn.execute(query)]
        wanted = {f"{t}.v1" for t in types}
        return [e for e in found if not wanted or e["type"] in wanted]

    def task_for(self, service_request_id: str) -> dict[str, Any]:
        bundle = self.get("Task", focus=f"ServiceRequest/{service_request_id}").json()
        assert bundle["total"] == 1, bundle
        return bundle["entry"][0]["resource"]  # type: ignore[no-any-return]
