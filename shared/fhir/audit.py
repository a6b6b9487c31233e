"""AuditEvent (IHE Basic Audit Log Patterns shape) and Provenance records of every API interaction.

Writes are audited in the same transaction as the write; reads and failures in their own.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from shared.core.errors import Unauthorized
from shared.core.principal import UNAUTHENTICATED_TENANT, Principal, Tenancy
from shared.fhir.searchparams import TARGET_PATIENT_EXTENSION, patient_of
from shared.fhir.store import ResourceStore, now_instant
from shared.fhir.values import format_instant

__all__ = ["AuditRecord", "RequestContext", "audit_event", "provenance", "unauthenticated_audit_event"]

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
CLIENT_SYSTEM = "https://pain-review.example.org/fhir/Id/client"
REQUEST_ID_SYSTEM = "https://pain-review.example.org/fhir/Id/x-request-id"
UNAUDITED_REFUSALS = "refusals-not-audited-since-the-last"  # entity.detail.type; valueString a count
UNAUDITED_THROTTLED = "throttled-requests-not-audited-since-the-last"  # the same, for a client's 429s
INTERACTION_SYSTEM = "http://hl7.org/fhir/restful-interaction"
BALP_REST = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "RESTful Operation",
}
SOURCE_ROLE = {
    "system": "http://dicom.nema.org/resources/ontology/DCM",
    "code": "110153",
    "display": "Source Role ID",
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
    # This client's 429s answered without an AuditEvent each since its last audited request
    # (``ClientThrottled``): recorded in this request's AuditEvent (a request leaves one).
    unaudited_before: int = 0

    @property
    def tenants(self) -> Tenancy:
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


def _entities(record: AuditRecord, request_id: str, correlation_id: str) -> list[dict[str, Any]]:
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
            "what": {"identifier": {"system": REQUEST_ID_SYSTEM, "value": request_id}},
            "description": "X-Request-Id",
            "detail": [{"type": "X-Correlation-Id", "valueString": correlation_id}],
        }
    )
    return entities


def _event(
    service: str, record: AuditRecord, agents: list[dict[str, Any]], entities: list[dict[str, Any]]
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": BALP_REST,
        "subtype": [{"system": INTERACTION_SYSTEM, "code": record.interaction}],
        "action": ACTIONS.get(record.interaction, "E"),
        "recorded": format_instant(now_instant(), "milliseconds"),
        "outcome": record.outcome,
        "agent": agents,
        "source": {"observer": {"display": f"pain-review {service}"}},
        "entity": entities,
    }
    if record.outcome_text:
        event["outcomeDesc"] = record.outcome_text[:500]
    return event


def audit_event(ctx: RequestContext, record: AuditRecord) -> dict[str, Any]:
    principal = ctx.principal
    agents = [
        {
            "type": {"coding": [SOURCE_ROLE]},
            "who": {"identifier": {"system": CLIENT_SYSTEM, "value": principal.client_id}},
            "requestor": True,
            "role": [{"text": principal.role}],
        },
        {
            "who": {"identifier": {"system": ODS_SYSTEM, "value": principal.practice}},
            "requestor": False,
        },
    ]
    entities = _entities(record, ctx.request_id, ctx.correlation_id)
    if ctx.unaudited_before:
        entities[-1]["detail"].append({"type": UNAUDITED_THROTTLED, "valueString": str(ctx.unaudited_before)})
    return _event(ctx.service, record, agents, entities)


# What an unauthenticated call's AuditEvent says of why (never the token, nor what it claimed).
_REFUSAL_CATEGORIES = (
    ("needs an access token", "no access token"),
    ("not a Bearer token", "the Authorization header is not a Bearer token"),
    ("has expired", "the access token has expired"),
    ("signature is not valid", "the access token signature is not valid"),
    ("key this server does not know", "the access token was signed with an unknown key"),
    ("malformed", "the access token is malformed"),
    ("not valid for this server", "the access token was issued for another server or by another issuer"),
    ("not usable here", "the access token does not describe a client this server serves"),
)


def refusal_category(exc: Unauthorized) -> str:
    """The reason a token was refused, as one of a few fixed phrases (never the token or its claims)."""
    return next((why for key, why in _REFUSAL_CATEGORIES if key in exc.diagnostics), "access token refused")


def unauthenticated_audit_event(
    service: str,
    record: AuditRecord,
    *,
    request_id: str,
    correlation_id: str,
    address: str | None,
    unaudited_before: int = 0,
) -> dict[str, Any]:
    """A call refused before we knew who made it (401). The client is unknown: nothing the token claims
    is recorded, since it was not verified, and no patient; only what was asked for, the request id, the
    network address it came from, and the reason category in ``outcomeDesc``. ``unaudited_before``:
    refusals from the same address answered 429 without an AuditEvent each since the last audited one
    (``shared.auth.ratelimit.RefusalLimiter``), recorded as a detail of the request entity."""
    agent: dict[str, Any] = {
        "type": {"coding": [SOURCE_ROLE]},
        "who": {"display": "unknown client (not authenticated)"},
        "requestor": True,
    }
    if address:
        agent["network"] = {"address": address, "type": "2"}  # 2: IP address
    anonymous = AuditRecord(
        record.interaction,
        record.resource_type,
        operation=record.operation,
        outcome=record.outcome,
        outcome_text=record.outcome_text,
    )
    entities = _entities(anonymous, request_id, correlation_id)
    if unaudited_before:
        entities[-1]["detail"].append({"type": UNAUDITED_REFUSALS, "valueString": str(unaudited_before)})
    return _event(service, anonymous, [agent], entities)


def provenance(ctx: RequestContext, target: dict[str, Any], activity: str) -> dict[str, Any]:
    """Provenance of one write: the client and the practice it acted for."""
    reference = f"{target['resourceType']}/{target['id']}/_history/{target['meta']['versionId']}"
    record: dict[str, Any] = {"resourceType": "Provenance"}
    if patient := patient_of(target):  # filed in the target's patient compartment (tenancy filter)
        record["extension"] = [{"url": TARGET_PATIENT_EXTENSION, "valueReference": {"reference": patient}}]
    return {
        **record,
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


def record_unauthenticated_audit(store: ResourceStore, conn: Connection, event: dict[str, Any]) -> None:
    """File the AuditEvent of a refused authentication under a tenant no caller acts for; auditors see it."""
    store.create(conn, event, practice=UNAUTHENTICATED_TENANT)


__all__ += ["record_audit", "record_unauthenticated_audit", "refusal_category"]
