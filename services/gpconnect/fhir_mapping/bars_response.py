"""The BaRS ``servicerequest-response`` message that answers a referrer. Pure.

Built like NHS England's example (``bars-examples/ValidationResponse_POST.json``): a message Bundle whose
MessageHeader (event ``servicerequest-response``) answers the request's MessageHeader (``response
.identifier`` its id, ``response.code`` ok), is addressed back to the request's source, keeps its reason,
and focuses on the ServiceRequest in its new state (``active`` accepted, ``revoked`` declined), with the
Patient and, for a decline, the Task carrying the reasons.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["BARS_EVENTS", "servicerequest_response"]

BARS_EVENTS = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
_PROFILE = "https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-servicerequest-response"
_BUNDLE_PROFILE = "https://fhir.nhs.uk/StructureDefinition/BARSBundleMessage"
_DEFINITION = "https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-response-referral"


def _first(bundle: Mapping[str, Any], resource_type: str) -> dict[str, Any] | None:
    for entry in bundle.get("entry", ()):
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == resource_type:
            return dict(resource)
    return None


def servicerequest_response(
    decided: Mapping[str, Any], *, now: datetime, message_id: str | None = None, service_name: str
) -> dict[str, Any] | None:
    """The response message for a ``referral.accepted``/``referral.rejected`` Bundle, or None when the
    referral did not come as a BaRS message (no MessageHeader: nobody to answer this way)."""
    request_header = _first(decided, "MessageHeader")
    service_request = _first(decided, "ServiceRequest")
    if request_header is None or service_request is None:
        return None
    patient = _first(decided, "Patient")
    task = _first(decided, "Task")
    message_id = message_id or str(uuid.uuid4())
    stamp = now.isoformat(timespec="seconds")
    header_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bars-response:{message_id}"))
    source = request_header.get("source") or {}
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "meta": {"lastUpdated": stamp, "profile": [_PROFILE]},
        "eventCoding": {"system": BARS_EVENTS, "code": "servicerequest-response"},
        "destination": [{"endpoint": str(source.get("endpoint") or "unknown")}],
        "source": {"name": service_name, "software": "pain-review", "endpoint": service_name},
        "response": {"identifier": str(request_header.get("id") or ""), "code": "ok"},
        "focus": [{"reference": f"urn:uuid:{service_request['id']}"}],
        "definition": _DEFINITION,
    }
    if request_header.get("reason"):
        header["reason"] = request_header["reason"]
    resources = [header, service_request]
    if patient is not None:
        resources.append(patient)
    if task is not None and service_request.get("status") == "revoked":
        resources.append(task)
    return {
        "resourceType": "Bundle",
        "id": message_id,
        "meta": {"lastUpdated": stamp, "profile": [_BUNDLE_PROFILE]},
        "type": "message",
        "timestamp": stamp,
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
