"""The e2e tier's audit count itself: it finds a request without its AuditEvent, and skips what is not
audited (no system is started here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.db import make_engine
from shared.fhir import ResourceStore, kernel_metadata
from shared.fhir.audit import REQUEST_ID_SYSTEM
from tests.e2e.audit_count import Tally, check_audit_trail, is_audited


def _line(route: str, request_id: str, service: str = "referral") -> str:
    return json.dumps(
        {
            "logger": "pain-review.access",
            "http_service": service,
            "http_method": "GET",
            "http_route": route,
            "http_status": 200,
            "request_id": request_id,
        }
    )


def _database(tmp_path: Path, *request_ids: str) -> str:
    url = f"sqlite:///{tmp_path / 'referral.db'}"
    engine = make_engine(url)
    kernel_metadata.create_all(engine)
    with engine.begin() as conn:
        for request_id in request_ids:
            event = {
                "resourceType": "AuditEvent",
                "entity": [{"what": {"identifier": {"system": REQUEST_ID_SYSTEM, "value": request_id}}}],
            }
            ResourceStore().create(conn, event, practice="A81001")
    engine.dispose()
    return url


def test_only_fhir_routes_operations_and_cds_hooks_are_audited() -> None:
    assert is_audited("/fhir/Patient/{resource_id}") and is_audited("/fhir/$screen")
    assert is_audited("/cds-services") and is_audited("/cds-services/{service_id}")
    for open_route in ("/fhir/metadata", "/healthz", "/readyz", "/metrics", "<unmatched>"):
        assert not is_audited(open_route)


def test_a_request_without_its_audit_event_fails_the_count(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(
        "\n".join([_line("/fhir/Patient", "r-1"), _line("/fhir/Patient", "r-2"), _line("/healthz", "h")])
    )
    url = _database(tmp_path, "r-1")
    totals = Tally()
    with pytest.raises(AssertionError, match="1 requests without an AuditEvent"):
        check_audit_trail("test", [log], {"referral": url}, totals)
    assert (totals.requests, totals.audited) == (2, 1)
    assert totals.summary() == "e2e audit: 2 requests, 1 AuditEvents, 50%"


def test_every_request_with_its_audit_event_passes(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(_line("/fhir/Patient", "r-1") + "\n" + _line("/cds-services", "r-2"))
    totals = check_audit_trail("test", [log], {"referral": _database(tmp_path, "r-1", "r-2")}, Tally())
    assert totals.summary() == "e2e audit: 2 requests, 2 AuditEvents, 100%"
