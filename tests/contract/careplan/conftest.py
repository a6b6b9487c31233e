"""The whole embedded system in-process, and helpers to publish events into it and wait for effects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem, create_embedded_system
from shared.auth import mint_local_token
from shared.contracts import EventType, new_event
from shared.outbox import record_event

T = TypeVar("T")


class Careplan:
    """The embedded system with a client for one practice's careplan API."""

    def __init__(self, system: EmbeddedSystem, client: TestClient, practice: str = "A81001") -> None:
        self.system, self.client, self.practice = system, client, practice
        self.token = mint_local_token(system.auth, practice=practice, scope="system/*.cruds")

    def headers(self, **extra: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}", "content-type": "application/fhir+json", **extra}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/careplan/fhir{path}", params=params, headers=self.headers())

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.post(f"/careplan/fhir{path}", json=body, headers=self.headers(**headers))

    def put(self, path: str, body: Any, **headers: str) -> Any:
        return self.client.put(f"/careplan/fhir{path}", json=body, headers=self.headers(**headers))

    def publish(self, producer: str, type_: EventType, subject: str, data: dict[str, Any]) -> None:
        """Write an event into ``producer``'s outbox, as that service would; the relay delivers it."""
        with self.system.services[producer].engine.begin() as conn:
            record_event(
                conn,
                new_event(
                    type_,
                    source=f"/painreview/{producer}",
                    subject=subject,
                    practice=self.practice,
                    data=data,
                ),
            )

    def search(self, resource_type: str, **params: Any) -> list[dict[str, Any]]:
        bundle = self.get(f"/{resource_type}", **params).json()
        return [e["resource"] for e in bundle.get("entry", [])]


def enrolment(
    patient: str, episode: str, *, start: str = "2024-01-10", gp: str = "Practitioner/gp1"
) -> dict[str, Any]:
    """A ``patient.enrolled`` Bundle as docs/EVENTS.md describes it (synthetic, 999 range NHS number)."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": f"EpisodeOfCare/{episode}",
                "resource": {
                    "resourceType": "EpisodeOfCare",
                    "id": episode,
                    "status": "active",
                    "patient": {"reference": f"Patient/{patient}"},
                    "managingOrganization": {
                        "identifier": {
                            "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                            "value": "A81001",
                        }
                    },
                    "period": {"start": start, "end": "2027-01-10"},
                },
            },
            {
                "fullUrl": f"Patient/{patient}",
                "resource": {
                    "resourceType": "Patient",
                    "id": patient,
                    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
                },
            },
            {
                "fullUrl": f"ServiceRequest/ref-{patient}",
                "resource": {
                    "resourceType": "ServiceRequest",
                    "id": f"ref-{patient}",
                    "status": "active",
                    "intent": "order",
                    "subject": {"reference": f"Patient/{patient}"},
                    "requester": {"reference": gp, "display": "Dr A Example"},
                },
            },
            {
                "fullUrl": f"Consent/consent-{patient}",
                "resource": {
                    "resourceType": "Consent",
                    "id": f"consent-{patient}",
                    "status": "active",
                    "scope": {"text": "treatment"},
                    "category": [{"text": "pain and opioid review"}],
                    "patient": {"reference": f"Patient/{patient}"},
                },
            },
            {
                "fullUrl": f"Condition/cond-{patient}",
                "resource": {
                    "resourceType": "Condition",
                    "id": f"cond-{patient}",
                    "code": {"text": "Osteoarthritis of knee"},
                    "subject": {"reference": f"Patient/{patient}"},
                },
            },
        ],
    }


@pytest.fixture(scope="module")
def careplan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Careplan]:
    var_dir: Path = tmp_path_factory.mktemp("var")
    system = create_embedded_system(var_dir, rate_per_minute=1_000_000, rate_burst=100_000)
    with TestClient(system.app) as client:
        yield Careplan(system, client)
    for parts in system.services.values():
        parts.engine.dispose()
