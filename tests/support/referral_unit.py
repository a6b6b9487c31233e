"""Referral's workflow at the kernel's unit of work, without HTTP: the referral service's kernel (as
``create_service`` composes it) over a SQLite file of each test's own (migrated as at start), an
operation called the way the kernel's route calls it (``OperationCall`` -> ``prepare`` ->
``handler(call, uow)`` in one transaction with the ``X-Request-Id`` claim, the flush of a batched unit
and the AuditEvent), a unit of work of its own for arranging and for triage, synthetic
BaRS messages, and what the database holds read back (resources, outbox, message records, claims).

A refusal is not audited here: the route records that (``FhirKernel.audit_failure``) in a transaction
of its own, after the operation's rolled back."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import anyio
import orjson
from sqlalchemy import func, select
from starlette.requests import Request

from services.referral.app import create_service
from services.referral.fhir_mapping.bars import BARS_EVENT_SYSTEM, BARS_REASON_SYSTEM, SERVICE_REQUEST_EVENT
from services.referral.settings import ReferralSettings
from services.referral.tables import bars_message, bars_resource
from shared.bus import InProcessTransport
from shared.core.principal import Principal, Tenancy, parse_scopes
from shared.db import make_engine
from shared.fhir import FhirKernel, OperationCall, RequestContext, UnitOfWork, resource_table
from shared.fhir.tables import history_table, request_table, search_index_table
from shared.outbox import outbox
from tests.support.auth import ALL, HeaderAuthenticator

__all__ = ["PRACTICE", "ReferralUnit", "bars_message_bundle", "referral_unit"]

PRACTICE = "A81001"
FHIR_JSON = "application/fhir+json"
SENDER = "https://fhir.nhs.uk/Id/ods-organization-code|Y99001"


def _request(path: str) -> Request:
    """The request the route would hand over: only what operations read of it (method, headers, URL)."""
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "server": ("testserver", 80),
        "root_path": "",
        "path": path,
        "query_string": b"",
        "headers": [(b"content-type", FHIR_JSON.encode()), (b"accept", FHIR_JSON.encode())],
    }
    return Request(scope)


@dataclass
class ReferralUnit:
    """One referral service's kernel over its own SQLite file."""

    kernel: FhirKernel
    settings: ReferralSettings

    @property
    def endpoint(self) -> str:
        return self.settings.bars_endpoint

    def context(self, request_id: str | None = None, practice: str = PRACTICE) -> RequestContext:
        principal = Principal(
            client_id=f"client-{practice}", practice=practice, role="gp-system", scopes=parse_scopes(ALL)
        )
        return RequestContext(principal, request_id or str(uuid.uuid4()), "corr-1", "referral")

    def call(
        self,
        name: str,
        body: Any = None,
        *,
        resource_id: str | None = None,
        request_id: str | None = None,
        practice: str = PRACTICE,
    ) -> Any:
        """Operation ``$name`` as the kernel's route runs it (its handler off the event loop, one
        transaction); returns its result or raises its ``FhirError``."""
        [operation] = [op for op in self.kernel.operations if op.name == name]
        path = f"/fhir/{operation.resource_type}/{resource_id}/${name}" if resource_id else f"/fhir/${name}"
        call = OperationCall(
            self.kernel, self.context(request_id, practice), _request(path), body, resource_id, operation
        )
        return anyio.run(operation.handler, call)

    @contextmanager
    def unit(self, *, batched: bool = False, practice: str = PRACTICE) -> Iterator[UnitOfWork]:
        """A unit of work in a transaction of its own, committed when the block ends without raising."""
        with self.kernel.engine.begin() as conn:
            uow = UnitOfWork(self.kernel, conn, self.context(practice=practice), batched=batched)
            yield uow
            uow.flush()

    # ---- what the database holds --------------------------------------------------------------
    def resources(self, resource_type: str, practice: str = PRACTICE) -> list[dict[str, Any]]:
        """The current version of each ``resource_type`` resource held (not deleted), oldest first."""
        r = resource_table.c
        query = (
            select(r.content)
            .where(r.resource_type == resource_type, r.deleted.is_(False), r.practice == practice)
            .order_by(r.last_updated, r.id)
        )
        with self.kernel.engine.connect() as conn:
            return [orjson.loads(row.content) for row in conn.execute(query)]

    def read(self, reference: str, practice: str = PRACTICE) -> dict[str, Any]:
        resource_type, _, resource_id = reference.partition("/")
        with self.kernel.engine.connect() as conn:
            return self.kernel.store.read(conn, resource_type, resource_id, tenants=Tenancy({practice}))

    def events(self, *types: str) -> list[dict[str, Any]]:
        """The outbox's events (envelopes), oldest first; only those of ``types`` (e.g. "referral.received")
        when given."""
        with self.kernel.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.payload).order_by(outbox.c.sequence))
            found = [orjson.loads(row.payload) for row in rows]
        wanted = {f"{t}.v1" for t in types}
        return [e for e in found if not wanted or e["type"] in wanted]

    def snapshot(self) -> dict[str, Any]:
        """Everything a request can leave behind: each resource's current version, the count of rows of
        the history, the search index, the outbox, the BaRS message records and sender ids, and the
        claimed request ids."""
        r = resource_table.c
        with self.kernel.engine.connect() as conn:
            versions = sorted(
                (row.resource_type, row.id, row.version_id, row.deleted)
                for row in conn.execute(select(r.resource_type, r.id, r.version_id, r.deleted))
            )
            counts = {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (
                    history_table,
                    search_index_table,
                    outbox,
                    bars_message,
                    bars_resource,
                    request_table,
                )
            }
        return {"resources": versions, **counts}


@cache
def _composed() -> tuple[Path, ReferralUnit]:
    """The referral service composed once per test process (its kernel's resources and operations, as
    ``create_service`` declares them) over a database migrated once: building the app's routes and
    migrating take longer than the tests."""
    folder = Path(tempfile.mkdtemp(prefix="referral-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    settings = ReferralSettings(database_url=f"sqlite:///{folder / 'referral.db'}", var_dir=folder)
    parts = create_service(settings, authenticator=HeaderAuthenticator(), transport=InProcessTransport())
    parts.engine.dispose()
    return folder / "referral.db", ReferralUnit(parts.kernel, settings)


def referral_unit(tmp_path: Path) -> ReferralUnit:
    """The referral service over ``tmp_path/referral.db``, a copy of a freshly migrated database: the
    service's kernel on an engine of its own (the caller disposes of ``kernel.engine``)."""
    template, composed = _composed()
    database = tmp_path / "referral.db"
    shutil.copyfile(template, database)
    kernel = replace(composed.kernel, engine=make_engine(f"sqlite:///{database}"))
    return ReferralUnit(kernel, composed.settings)


def bars_message_bundle(
    endpoint: str,
    patient: dict[str, Any],
    records: Sequence[dict[str, Any]] = (),
    *,
    reason: str = "new",
    message_id: str | None = None,
    timestamp: str = "2024-06-15T10:00:00+00:00",
    authored_on: str | None = "2024-06-15",
    urls: dict[str, str] | None = None,
    **service_request: Any,
) -> dict[str, Any]:
    """A BaRS ``servicerequest-request`` message to ``endpoint``: MessageHeader, ServiceRequest, the
    ``patient`` and their ``records`` (ids dropped, subjects pointed at the patient's entry).

    ``urls`` (filled in when empty) keeps the sender's fullUrls by role ("ServiceRequest", "Patient",
    "record-<n>"): a later message passing the same dict is about the same referral."""
    urls = {} if urls is None else urls
    for role in ("MessageHeader", "ServiceRequest", "Patient", *(f"record-{i}" for i in range(len(records)))):
        urls.setdefault(role, f"urn:uuid:{uuid.uuid4()}")
    subject = {"reference": urls["Patient"]}
    focus: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"text": "Pain and opioid review"}],
        "subject": subject,
        **({"authoredOn": authored_on} if authored_on else {}),
        **service_request,
    }
    header = {
        "resourceType": "MessageHeader",
        "id": urls["MessageHeader"].removeprefix("urn:uuid:"),
        "eventCoding": {"system": BARS_EVENT_SYSTEM, "code": SERVICE_REQUEST_EVENT},
        "destination": [{"endpoint": endpoint}],
        "source": {"endpoint": SENDER},
        "reason": {"coding": [{"system": BARS_REASON_SYSTEM, "code": reason}]},
        "focus": [{"reference": urls["ServiceRequest"]}],
    }
    entries = [
        {"fullUrl": urls["MessageHeader"], "resource": header},
        {"fullUrl": urls["ServiceRequest"], "resource": focus},
        {"fullUrl": urls["Patient"], "resource": {k: v for k, v in patient.items() if k != "id"}},
    ]
    for i, record in enumerate(records):
        resource = {k: v for k, v in record.items() if k != "id"}
        resource["subject"] = subject
        entries.append({"fullUrl": urls[f"record-{i}"], "resource": resource})
    return {
        "resourceType": "Bundle",
        "id": message_id or str(uuid.uuid4()),
        "type": "message",
        "timestamp": timestamp,
        "entry": entries,
    }
