"""AuditEvent (IHE Basic Audit Log Patterns shape) and Provenance records of every API interaction.

Writes are audited in the same transaction as the write; reads and failures in their own.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from shared.auth.principal import Principal
from shared.fhir.store import ResourceStore, now_instant

__all__ = ["AuditRecord", "RequestContext", "audit_event", "provenance"]

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
CLIENT_SYSTEM = "https://pain-review.example.org/fhir/Id/client"
REQUEST_ID_SYSTEM = "https://pain-review.example.org/fhir/Id/x-request-id"
INTERACTION_SYSTEM = "http://hl7.org/fhir/restful-interaction"
BALP_REST = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "RESTful Operation",
}
ACTIONS = {
    "create": "C",
    "read": "R",
    "vread": "R",
    "search-type": "E",
    "history-instance": "R",
    "update": "U",
    "delete": "D",
    "operation": "E",
    "capabilities": "R",
}


@dataclass(frozen=True)
class RequestContext:
    """What every handler knows about the call: who, for which practices, and its ids."""

    principal: Principal
    request_id: str
    correlation_id: str
    service: str
    request_id_supplied: bool = True

    @property
    def tenants(self) -> frozenset[str]:
        return self.principal.tenants


@dataclass(frozen=True)
class AuditRecord:
    interaction: str  # a restful-interaction code
    resource_type: str | None
    resource_id: str | None = None
    patient: str | None = None
    query: str | None = None
    operation: str | None = None
    outcome: str = "0"  # 0 success, 4 minor failure (client), 8 serious failure (server)
    outcome_text: str | None = None


def audit_event(ctx: RequestContext, record: AuditRecord) -> dict[str, Any]:
    principal = ctx.principal
    subtype = {"system": INTERACTION_SYSTEM, "code": record.interaction}
    entities: list[dict[str, Any]] = []
    if record.resource_type:
        what: dict[str, Any] = {"type": record.resource_type}
        if record.resource_id:
            what = {"reference": f"{record.resource_type}/{record.resource_id}"}
        entity: dict[str, Any] = {
            "what": what,
            "type": {
                "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                "code": "2",
                "display": "System Object",
            },
        }
        if record.query:
            entity["query"] = base64.b64encode(record.query.encode()).decode()
        if record.operation:
            entity["description"] = f"${record.operation}"
        entities.append(entity)
    if record.patient:
        entities.append(
            {
                "what": {"reference": record.patient},
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "1",
                    "display": "Person",
                },
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "1",
                    "display": "Patient",
                },
            }
        )
    entities.append(
        {
            "what": {"identifier": {"system": REQUEST_ID_SYSTEM, "value": ctx.request_id}},
            "description": "X-Request-Id",
            "detail": [{"type": "X-Correlation-Id", "valueString": ctx.correlation_id}],
        }
    )
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": BALP_REST,
        "subtype": [subtype],
        "action": ACTIONS.get(record.interaction, "E"),
        "recorded": now_instant().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "outcome": record.outcome,
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://dicom.nema.org/resources/ontology/DCM",
                            "code": "110153",
                            "display": "Source Role ID",
                        }
                    ]
                },
                "who": {"identifier": {"system": CLIENT_SYSTEM, "value": principal.client_id}},
                "requestor": True,
                "role": [{"text": principal.role}],
            },
            {
                "who": {"identifier": {"system": ODS_SYSTEM, "value": principal.practice}},
                "requestor": False,
            },
        ],
        "source": {"observer": {"display": f"pain-review {ctx.service}"}},
        "entity": entities,
    }
    if record.outcome_text:
        event["outcomeDesc"] = record.outcome_text[:500]
    return event


def provenance(ctx: RequestContext, target: dict[str, Any], activity: str) -> dict[str, Any]:
    """Provenance of one write: the client and the practice it acted for."""
    reference = f"{target['resourceType']}/{target['id']}/_history/{target['meta']['versionId']}"
    return {
        "resourceType": "Provenance",
        "target": [{"reference": reference}],
        "recorded": target["meta"]["lastUpdated"],
        "activity": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": activity}]
        },
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "author",
                        }
                    ]
                },
                "who": {"identifier": {"system": CLIENT_SYSTEM, "value": ctx.principal.client_id}},
                "onBehalfOf": {"identifier": {"system": ODS_SYSTEM, "value": ctx.principal.practice}},
            },
        ],
    }


def record_audit(store: ResourceStore, conn: Connection, ctx: RequestContext, record: AuditRecord) -> None:
    store.create(conn, audit_event(ctx, record), practice=ctx.principal.practice)


__all__ += ["record_audit"]
