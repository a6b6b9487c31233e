"""Medreview in the embedded system: a client for one practice's medreview API that can also publish
events into it, the GP record's medicines and their ``medication.list-synced`` Bundle, and the
CDS Hooks JSON schemas."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from painreview.embedded import EmbeddedSystem
from shared.auth import mint_local_token
from shared.contracts import EventType, new_event
from shared.outbox import outbox, record_event
from tests.support import eventually

PRACTICE = "A81001"


FHIR_JSON = "application/fhir+json"


SCHEMAS = Path(__file__).parents[1] / "contract/medreview/schemas"


@dataclass
class Medreview:
    system: EmbeddedSystem
    client: TestClient
    token: str

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {token or self.token}", "content-type": FHIR_JSON}

    def post(self, path: str, body: Any, token: str | None = None) -> Any:
        return self.client.post(f"/medreview{path}", json=body, headers=self.headers(token))

    def get(self, path: str, token: str | None = None, **params: str) -> Any:
        return self.client.get(f"/medreview{path}", params=params, headers=self.headers(token))

    def other_practice_token(self, practice: str = "B82002") -> str:
        return mint_local_token(self.system.auth, practice=practice, scope="system/*.cruds")

    def publish(self, producer: str, event_type: EventType, data: dict[str, Any], subject: str) -> None:
        """Write an event into ``producer``'s outbox, as that service would; its relay publishes it."""
        event = new_event(
            event_type, source=f"/painreview/{producer}", subject=subject, practice=PRACTICE, data=data
        )
        with self.system.services[producer].engine.begin() as conn:
            record_event(conn, event)

    def events(self, event_type: str, subject_prefix: str = "") -> list[dict[str, Any]]:
        """medreview's outbox: the CloudEvents of ``event_type``, oldest first."""
        with self.system.services["medreview"].engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox.c.payload).where(outbox.c.type == event_type).order_by(outbox.c.sequence)
            ).all()
        found = [orjson.loads(r.payload) for r in rows]
        return [e for e in found if str(e["subject"]).startswith(subject_prefix)]


def new_patient() -> str:
    return str(uuid.uuid4())


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def medicine(
    patient: str, id_: str, name: str, dosage: str, kind: str = "MedicationRequest"
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": id_,
        "status": "active",
        "subject": {"reference": f"Patient/{patient}"},
        "medicationCodeableConcept": {"text": name},
        ("dosage" if kind == "MedicationStatement" else "dosageInstruction"): [{"text": dosage}],
    }
    if kind == "MedicationRequest":
        resource["intent"] = "plan"
    return resource


def list_bundle(patient: str, *resources: dict[str, Any]) -> dict[str, Any]:
    person = {
        "resourceType": "Patient",
        "id": patient,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000026"}],
    }
    entries = [{"fullUrl": f"Patient/{patient}", "resource": person}]
    entries += [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def synced(medreview: Medreview, patient: str, *resources: dict[str, Any]) -> None:
    """The GP record's list for ``patient`` reaches medreview (``medication.list-synced`` from gpconnect)."""
    from shared.contracts import MEDICATION_LIST_SYNCED_V1

    medreview.publish(
        "gpconnect", MEDICATION_LIST_SYNCED_V1, list_bundle(patient, *resources), f"Patient/{patient}"
    )
    eventually(
        lambda: (
            medreview.get("/fhir/List", patient=f"Patient/{patient}").json().get("total") == 1
            and listed_references(medreview, patient) == {f"{r['resourceType']}/{r['id']}" for r in resources}
        )
    )


def listed_references(medreview: Medreview, patient: str) -> set[str]:
    bundle = medreview.get("/fhir/List", patient=f"Patient/{patient}").json()
    return {
        e["item"]["reference"]
        for entry in bundle.get("entry", [])
        for e in entry["resource"].get("entry", [])
    }
