"""Issue 4's count: an AuditEvent for 100% of the requests the e2e tier makes to audited endpoints.

Each service writes one access log line per request (``pain-review.access``: service, method, route
template, status and the request id its AuditEvent names, see ``shared/observability/metrics.py``). At the
end of every system an e2e fixture starts, :func:`check_audit_trail` reads that system's logs, keeps the
requests to audited endpoints (FHIR resource routes and operations, CDS Hooks; not ``/fhir/metadata``,
health, metrics, the token endpoint or the GP simulator), and looks each request id up among the
AuditEvents in that service's database. A request without one fails the fixture; the totals of the whole
run are printed at the end of the session (``tests/e2e/conftest.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from sqlalchemy import create_engine, select

from shared.fhir.audit import REQUEST_ID_SYSTEM
from shared.fhir.tables import resource_table

__all__ = ["TALLY", "AccessLine", "Tally", "check_audit_trail", "is_audited"]

SERVICES = frozenset({"referral", "careplan", "medreview", "gpconnect"})


@dataclass(frozen=True)
class AccessLine:
    service: str
    method: str
    route: str
    status: int
    request_id: str


@dataclass
class Tally:
    requests: int = 0
    audited: int = 0
    systems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        share = 100.0 * self.audited / self.requests if self.requests else 100.0
        return f"e2e audit: {self.requests} requests, {self.audited} AuditEvents, {share:.0f}%"


TALLY = Tally()  # the whole session's


def is_audited(route: str) -> bool:
    """Whether a request to this route template must leave an AuditEvent."""
    if route == "/fhir/metadata":
        return False
    return route.startswith("/fhir/") or route == "/cds-services" or route.startswith("/cds-services/")


def access_lines(logs: Iterable[Path]) -> list[AccessLine]:
    found = []
    for path in logs:
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if '"pain-review.access"' not in raw:
                continue
            line = json.loads(raw)
            if line.get("http_service") in SERVICES and line.get("request_id"):
                found.append(
                    AccessLine(
                        str(line["http_service"]),
                        str(line["http_method"]),
                        str(line["http_route"]),
                        int(line["http_status"]),
                        str(line["request_id"]),
                    )
                )
    return found


def audited_request_ids(database_url: str) -> set[str]:
    """Every request id the AuditEvents of one service's database name."""
    R = resource_table
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(R.c.content).where(R.c.resource_type == "AuditEvent")).scalars().all()
    finally:
        engine.dispose()
    ids = set()
    for content in rows:
        for entity in orjson.loads(content).get("entity", ()):
            identifier = (entity.get("what") or {}).get("identifier") or {}
            if identifier.get("system") == REQUEST_ID_SYSTEM:
                ids.add(identifier["value"])
    return ids


def check_audit_trail(
    system: str, logs: Iterable[Path], databases: Mapping[str, str], totals: Tally = TALLY
) -> Tally:
    """Count one system's audited requests and their AuditEvents into ``totals``; fail on any missing."""
    requests = [line for line in access_lines(logs) if is_audited(line.route)]
    tally = Tally(systems=[system])
    missing: list[AccessLine] = []
    for service in sorted({line.service for line in requests}):
        ids = audited_request_ids(databases[service])
        for line in (r for r in requests if r.service == service):
            tally.requests += 1
            if line.request_id in ids:
                tally.audited += 1
            else:
                missing.append(line)
    totals.requests += tally.requests
    totals.audited += tally.audited
    totals.systems.append(f"{system}: {tally.summary().removeprefix('e2e audit: ')}")
    assert requests, f"{system}: no audited request was logged (is the access log on?)"
    assert not missing, f"{system}: {len(missing)} requests without an AuditEvent, e.g. {missing[:5]}"
    return tally
