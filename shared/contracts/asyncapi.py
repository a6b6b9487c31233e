"""The AsyncAPI 3.0 document of the event contracts, generated from the registry.

``python -m shared.contracts.asyncapi > docs/asyncapi.yaml`` regenerates the committed copy; a contract
test fails when that copy is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from shared.contracts.catalog import EVENT_TYPES, EventType
from shared.contracts.envelope import CLOUDEVENTS_JSON, CloudEvent, event_source

__all__ = ["DOCUMENT_VERSION", "SUBJECT_PREFIX", "asyncapi_document", "component_id", "render_yaml"]

DOCUMENT_VERSION = "1.0.0"
SUBJECT_PREFIX = "painreview"

_DESCRIPTION = """\
Events the pain and opioid review services exchange. Every state change another service needs is
written to the producer's outbox in the same database transaction and relayed to one JetStream stream
(`PAINREVIEW`, subjects `painreview.>`); each consumer records the event id in its inbox in the same
transaction as its effect. Delivery is at least once; effects happen once.

Envelope: CloudEvents 1.0, structured JSON mode, `data` a FHIR R4 resource or Bundle
(`datacontenttype: application/fhir+json`). Extension attributes: `correlationid` (BaRS
X-Correlation-Id), `traceparent` (W3C trace context) and `practice` (ODS code of the owning GP practice,
the tenant: consumers never mix practices). The NATS header `Nats-Msg-Id` is the event `id`, so the
stream drops a repeated publish within its duplicate window.

Types are versioned (`<name>.v<n>`); a published version never changes meaning. A consumer that fails
an event more often than its redelivery limit sends it to `painreview.deadletter.<consumer>` with the
original headers and the failure; `pain-review events replay <id>` re-publishes it once fixed."""


def component_id(event_type: EventType) -> str:
    """``referral.accepted.v1`` -> ``referralAcceptedV1`` (channel, message and schema ids)."""
    words = event_type.type.replace("-", ".").split(".")
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _envelope_schema() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema(mode="serialization")
    schema["description"] = "CloudEvents 1.0 envelope (structured JSON) with FHIR R4 data."
    # Attributes with defaults are always written; only the null extensions are left out.
    schema["required"] = [n for n in schema["properties"] if n not in ("correlationid", "traceparent")]
    return schema


def _data_schema(event_type: EventType) -> dict[str, Any]:
    links = ", ".join(f"https://hl7.org/fhir/R4/{r.lower()}.html" for r in event_type.resource_types)
    return {
        "type": "object",
        "description": f"FHIR R4 {' or '.join(event_type.resource_types)} ({links}).",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "enum": list(event_type.resource_types)}},
    }


def _event_schema(event_type: EventType, cid: str) -> dict[str, Any]:
    return {
        "description": event_type.description,
        "allOf": [
            {"$ref": "#/components/schemas/CloudEvent"},
            {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "const": event_type.type},
                    "data": {"$ref": f"#/components/schemas/{cid}Data"},
                },
            },
        ],
    }


def _example(event_type: EventType) -> dict[str, Any]:
    resource = event_type.resource_types[0]
    return {
        "specversion": "1.0",
        "id": "0b6f4c1e-5d0a-4e1b-9a51-6c7a9b1e2f30",
        "source": event_source(event_type.name.split(".")[0]),
        "type": event_type.type,
        "subject": f"{resource}/example",
        "time": "2025-01-01T09:00:00Z",
        "datacontenttype": "application/fhir+json",
        "correlationid": "5f1a7c2e-2b4d-4c8e-9f00-1a2b3c4d5e6f",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "practice": "A81001",
        "data": {"resourceType": resource, "id": "example"},
    }


_HEADERS = {
    "type": "object",
    "properties": {
        "Nats-Msg-Id": {"type": "string", "description": "The event id: JetStream drops repeats."},
        "Content-Type": {"type": "string", "const": CLOUDEVENTS_JSON},
        "ce-type": {"type": "string", "description": "Copy of the CloudEvents type, for routing."},
        "ce-practice": {"type": "string", "description": "Copy of the practice ODS code."},
        "traceparent": {"type": "string", "description": "Copy of the W3C trace context."},
    },
    "required": ["Nats-Msg-Id"],
}


def asyncapi_document(
    types: Iterable[EventType] | None = None, *, subject_prefix: str = SUBJECT_PREFIX
) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document (a plain dict) for ``types`` (default: every registered type)."""
    chosen = sorted(types if types is not None else EVENT_TYPES.values(), key=lambda t: t.type)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEvent": _envelope_schema()}
    for event_type in chosen:
        cid = component_id(event_type)
        channels[cid] = {
            "address": f"{subject_prefix}.{event_type.type}",
            "title": event_type.type,
            "description": event_type.description,
            "messages": {cid: {"$ref": f"#/components/messages/{cid}"}},
        }
        operations[f"send{cid[:1].upper()}{cid[1:]}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"Publish {event_type.type} through the producer's outbox.",
            "messages": [{"$ref": f"#/channels/{cid}/messages/{cid}"}],
        }
        messages[cid] = {
            "name": event_type.type,
            "title": event_type.type,
            "summary": event_type.description.split(". ")[0] + ".",
            "contentType": CLOUDEVENTS_JSON,
            "correlationId": {"location": "$message.payload#/correlationid"},
            "headers": {"$ref": "#/components/schemas/NatsHeaders"},
            "payload": {"$ref": f"#/components/schemas/{cid}"},
            "examples": [{"name": "example", "payload": _example(event_type)}],
        }
        schemas[cid] = _event_schema(event_type, cid)
        schemas[f"{cid}Data"] = _data_schema(event_type)
    schemas["NatsHeaders"] = _HEADERS
    channels["deadLetter"] = {
        "address": f"{subject_prefix}.deadletter.{{consumer}}",
        "title": "dead letters",
        "description": "Events a consumer failed more often than its redelivery limit: the original "
        "payload and headers plus Painreview-Error, Painreview-Consumer and Painreview-Original-Subject.",
        "parameters": {"consumer": {"description": "The durable consumer (service) that gave up."}},
        "messages": {"deadLetter": {"$ref": "#/components/messages/deadLetter"}},
    }
    operations["sendDeadLetter"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/deadLetter"},
        "summary": "A consumer gives up on an event after its redelivery limit.",
        "messages": [{"$ref": "#/channels/deadLetter/messages/deadLetter"}],
    }
    messages["deadLetter"] = {
        "name": "deadletter",
        "title": "dead letter",
        "contentType": CLOUDEVENTS_JSON,
        "payload": {"$ref": "#/components/schemas/CloudEvent"},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Pain and opioid review events",
            "version": DOCUMENT_VERSION,
            "description": _DESCRIPTION,
        },
        "defaultContentType": CLOUDEVENTS_JSON,
        "servers": {
            "production": {
                "host": "nats:4222",
                "protocol": "nats",
                "description": "NATS JetStream, stream PAINREVIEW (file storage, 3 replicas).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def render_yaml(document: dict[str, Any] | None = None) -> str:
    """The document as YAML, as committed in ``docs/asyncapi.yaml`` (PyYAML, a development tool)."""
    import yaml  # only the generator and its test need it

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None  # keep prose readable in review
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    header = "# Generated by `python -m shared.contracts.asyncapi`; do not edit by hand.\n"
    body = yaml.dump(
        document if document is not None else asyncapi_document(),
        Dumper=_Dumper,
        sort_keys=False,
        width=110,
        allow_unicode=True,
    )
    return header + body


if __name__ == "__main__":
    sys.stdout.write(render_yaml())
