"""Reading a BaRS ``servicerequest-request`` message Bundle: the checks BaRS asks of a receiver.

The anti-corruption layer for BaRS: a message that passes `read_message` has a MessageHeader first,
the right event, our endpoint among its destinations, a known reason, a focus that is a ServiceRequest
in the Bundle, a Patient in the Bundle as its subject, every entry valid FHIR R4, and every
``urn:uuid:`` reference resolving to an entry. Failures are `shared.fhir` errors carrying BaRS
``REC_*`` codes. `resolve_references` rewrites the sender's ``urn:uuid:`` references to our ids.

Two rules beyond those: the Bundle carries its ``timestamp`` (the BaRS message Bundle requires it, and
intake orders a referral's messages by it: a message without one would leave nothing to refuse a stale
one by), and every entry's ``fullUrl`` is its own, the MessageHeader's included (R4's bdl-7). Each NHS
number in an entry is checked as the kernel checks one on a create (`check_nhs_numbers`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.fhir import (
    BadRequest,
    InvalidResource,
    Unprocessable,
    check_nhs_numbers,
    parse_instant,
    validate_resource,
)

__all__ = [
    "BARS_EVENT_SYSTEM",
    "BARS_REASON_SYSTEM",
    "REASONS",
    "SERVICE_REQUEST_EVENT",
    "Entry",
    "Message",
    "check_version",
    "read_message",
    "references",
    "resolve_references",
]

BARS_EVENT_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
BARS_REASON_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
SERVICE_REQUEST_EVENT = "servicerequest-request"
REASONS = ("new", "update", "delete")
VERSION_REFUSED = "the versioning specified is not supported."


@dataclass(frozen=True)
class Entry:
    full_url: str
    resource: dict[str, Any]


@dataclass(frozen=True)
class Message:
    message_id: str  # Bundle.id: a resent message keeps it
    header: dict[str, Any]
    header_url: str
    reason: str  # new | update | delete
    focus_url: str  # the ServiceRequest entry's fullUrl
    patient_url: str  # the Patient entry's fullUrl
    response_id: str | None  # MessageHeader.response.identifier, when the message answers another
    sent_at: datetime  # Bundle.timestamp
    entries: tuple[Entry, ...]  # every entry but the MessageHeader, in order

    def entry(self, full_url: str) -> Entry:
        return next(e for e in self.entries if e.full_url == full_url)


def check_version(media_types: Sequence[str | None], supported: Sequence[str]) -> None:
    """Refuse (422, as BaRS) a ``version=`` media type parameter naming a version we do not speak."""
    for media_type in media_types:
        for part in (media_type or "").split(",")[0].split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.strip().lower() != "version":
                continue
            version = value.strip().strip('"')
            if not any(version == v or version.startswith(f"{v}.") for v in supported):
                raise Unprocessable(VERSION_REFUSED, issue_code="not-supported")


def references(node: Any) -> Iterator[str]:
    """Every ``reference`` string anywhere in a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            elif isinstance(value, dict | list):
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolve_references(node: Any, ids: Mapping[str, str]) -> Any:
    """A copy of ``node`` with each ``reference`` found in ``ids`` (sender fullUrl -> "Type/id") rewritten."""
    if isinstance(node, dict):
        return {
            key: ids.get(value, value)
            if key == "reference" and isinstance(value, str)
            else resolve_references(value, ids)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [resolve_references(item, ids) for item in node]
    return node


def _coding(concept: Any, system: str) -> str | None:
    codings = concept.get("coding", []) if isinstance(concept, dict) else []
    return next((str(c.get("code")) for c in codings if c.get("system") == system), None)


def _entries(body: Any) -> list[tuple[str | None, dict[str, Any]]]:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise InvalidResource("The body must be a BaRS message: a Bundle", expression=["Bundle"])
    if body.get("type") != "message":
        raise InvalidResource("The Bundle must be of type 'message'", expression=["Bundle.type"])
    raw = body.get("entry")
    if not isinstance(raw, list) or not raw:
        raise InvalidResource("The message has no entries", expression=["Bundle.entry"])
    entries = []
    for i, entry in enumerate(raw):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise InvalidResource(f"Entry {i} has no resource", expression=[f"Bundle.entry[{i}]"])
        full_url = entry.get("fullUrl")
        entries.append((full_url if isinstance(full_url, str) and full_url else None, resource))
    if entries[0][1].get("resourceType") != "MessageHeader":
        raise BadRequest(
            "The message has no MessageHeader: it must be the first entry", expression=["Bundle.entry[0]"]
        )
    return entries


def _validate(entries: list[tuple[str | None, dict[str, Any]]]) -> None:
    issues: list[dict[str, Any]] = []
    for i, (_url, resource) in enumerate(entries):
        try:
            validate_resource(resource)
            check_nhs_numbers(resource)
        except InvalidResource as exc:
            found = exc.extra_issues or [exc.to_operation_outcome()["issue"][0]]
            for issue in found:
                where = [
                    f"Bundle.entry[{i}].resource" + (e[e.index(".") :] if "." in e else "")
                    for e in issue.get("expression", [""])
                ]
                issues.append({**issue, "expression": where})
    if issues:
        raise InvalidResource("Entries of the message are not valid FHIR R4", issues=issues[:20])


def _header_checks(header: dict[str, Any], our_endpoint: str) -> str:
    event = header.get("eventCoding") or {}
    if event.get("system") != BARS_EVENT_SYSTEM or event.get("code") != SERVICE_REQUEST_EVENT:
        raise Unprocessable(
            f"The message event must be {SERVICE_REQUEST_EVENT}; {event.get('code')!r} is not supported",
            issue_code="not-supported",
            expression=["MessageHeader.eventCoding"],
        )
    endpoints = [d.get("endpoint") for d in header.get("destination") or [] if isinstance(d, dict)]
    if our_endpoint not in endpoints:
        raise Unprocessable(
            f"The message is not addressed to this service: no destination endpoint is {our_endpoint}",
            expression=["MessageHeader.destination.endpoint"],
        )
    reason = _coding(header.get("reason"), BARS_REASON_SYSTEM)
    if reason is None:
        raise BadRequest(
            "MessageHeader.reason must carry a message-reason-bars code (new, update or delete)",
            issue_code="required",
            expression=["MessageHeader.reason"],
        )
    if reason not in REASONS:
        raise Unprocessable(
            f"The message reason {reason!r} is not supported",
            issue_code="not-supported",
            expression=["MessageHeader.reason"],
        )
    return reason


def _resolve(urls: dict[str, dict[str, Any]], reference: Any, kind: str, where: str) -> str:
    target = urls.get(reference) if isinstance(reference, str) else None
    if target is None or target.get("resourceType") != kind:
        raise BadRequest(
            f"{where} must refer to a {kind} in the message", issue_code="invariant", expression=[where]
        )
    return str(reference)


def read_message(body: Any, our_endpoint: str) -> Message:
    """Check a BaRS message Bundle and return what intake needs from it."""
    entries = _entries(body)
    if not isinstance(body.get("id"), str) or not body["id"]:
        raise InvalidResource("The message Bundle must carry an id", expression=["Bundle.id"])
    validate_resource({k: v for k, v in body.items() if k != "entry"}, "Bundle")
    timestamp = body.get("timestamp")
    if not isinstance(timestamp, str) or not timestamp:
        raise BadRequest(
            "The message Bundle must carry its timestamp: messages about a referral apply in its order",
            issue_code="required",
            expression=["Bundle.timestamp"],
        )
    _validate(entries)
    header_url, header = entries[0]
    reason = _header_checks(header, our_endpoint)
    urls: dict[str, dict[str, Any]] = {}  # every entry but the MessageHeader, by fullUrl
    seen: set[str] = set()
    for i, (url, resource) in enumerate(entries):
        if (url is None and i > 0) or url in seen:
            raise BadRequest(
                f"Entry {i} needs a fullUrl of its own",
                issue_code="invariant",
                expression=[f"Bundle.entry[{i}].fullUrl"],
            )
        if url is not None:
            seen.add(url)
            if i > 0:
                urls[url] = resource
    for resource in [header, *urls.values()]:
        for ref in references(resource):
            if ref.startswith("urn:uuid:") and ref not in urls:
                raise BadRequest(
                    f"The reference {ref} does not resolve inside the message",
                    issue_code="invariant",
                    expression=[f"{resource['resourceType']}"],
                )
    focus = header.get("focus") or []
    if len(focus) != 1:
        raise BadRequest(
            "MessageHeader.focus must name the one ServiceRequest",
            issue_code="invariant",
            expression=["MessageHeader.focus"],
        )
    focus_url = _resolve(urls, focus[0].get("reference"), "ServiceRequest", "MessageHeader.focus")
    subject = (urls[focus_url].get("subject") or {}).get("reference")
    patient_url = _resolve(urls, subject, "Patient", "ServiceRequest.subject")
    response = header.get("response") or {}
    try:
        sent_at = parse_instant(timestamp)
    except ValueError:  # "2016-12-31T23:59:60Z": the pattern allows a leap second, Python no datetime of it
        raise BadRequest(
            "Bundle.timestamp is not an instant that can be ordered",
            issue_code="value",
            expression=["Bundle.timestamp"],
        ) from None
    return Message(
        message_id=body["id"],
        header=header,
        header_url=header_url or f"urn:uuid:{header.get('id', '')}",
        reason=reason,
        focus_url=focus_url,
        patient_url=patient_url,
        response_id=response.get("identifier"),
        sent_at=sent_at,
        entries=tuple(Entry(url, resource) for url, resource in urls.items()),
    )
