"""Only a prescriber decides a taper step: checked against a running system after the demo (both modes)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.auth import AuthSettings, mint_local_token

__all__ = ["assert_a_project_worker_cannot_decide_a_step"]


def assert_a_project_worker_cannot_decide_a_step(
    medreview: str, settings: AuthSettings, facts: dict[str, Any], token: str
) -> None:
    """The next step's approval Task, decided by a project worker assigned to the practice through
    ``$decide``: 403, an AuditEvent naming them with outcome 4 (read by an auditor), and the Task still
    requested (only a prescriber at the practice, or the GP system, decides). ``medreview``: its base URL."""
    fhir = {"Accept": "application/fhir+json"}
    gp = {**fhir, "Authorization": f"Bearer {token}"}
    tasks = httpx.get(
        f"{medreview}/fhir/Task",
        params={"status": "requested", "code": "approve-taper-step", "_count": "100"},
        headers=gp,
        timeout=30,
    )
    assert tasks.status_code == 200, tasks.text
    plan = f"CarePlan/{facts['taper']}"
    [task] = [
        e["resource"]
        for e in tasks.json().get("entry", [])
        if any(b.get("reference") == plan for b in e["resource"].get("basedOn", []))
    ]
    worker = mint_local_token(
        settings, practice="A81001", scope="system/*.cruds", role="project-worker", practices=["A81001"]
    )
    request_id = str(uuid.uuid4())
    decision = {
        "resourceType": "Parameters",
        "parameter": [{"name": "decision", "valueCode": "approved"}],
    }
    refused = httpx.post(
        f"{medreview}/fhir/Task/{task['id']}/$decide",
        json=decision,
        headers={**fhir, "Authorization": f"Bearer {worker}", "X-Request-Id": request_id},
        timeout=30,
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["resourceType"] == "OperationOutcome"
    auditor = mint_local_token(settings, practice="A81001", scope="system/AuditEvent.rs", role="auditor")
    events = httpx.get(
        f"{medreview}/fhir/AuditEvent",
        params={"outcome": "4", "_count": "100"},
        headers={**fhir, "Authorization": f"Bearer {auditor}"},
        timeout=30,
    )
    assert events.status_code == 200, events.text
    [event] = [
        e["resource"]
        for e in events.json().get("entry", [])
        if any(
            (entity.get("what") or {}).get("identifier", {}).get("value") == request_id
            for entity in e["resource"].get("entity", [])
        )
    ]
    requestor = next(a for a in event["agent"] if a.get("requestor"))
    assert requestor["role"][0]["text"] == "project-worker"
    after = httpx.get(f"{medreview}/fhir/Task/{task['id']}", headers=gp, timeout=30)
    assert after.json()["status"] == "requested"
