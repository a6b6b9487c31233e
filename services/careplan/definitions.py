"""Definitional resources every practice reads: the published catalogue, templates and measure.

The kernel's store keeps every row under one practice and filters every read by the caller's
practices. The service's own CodeSystems, ValueSets, Questionnaire, PlanDefinitions and Measure belong
to no practice, so they are stored under ``SHARED_TENANT`` (not an ODS code: no caller can act for
it) and this store adds it to the tenants of reads of those types. Writes are unchanged: a practice
cannot update or delete a shared resource (it is "someone else's id", 404), and what a practice
creates (its own local CodeSystem, say) stays its own.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from services.careplan.catalogue import definitions
from shared.fhir import NotFound, PreconditionFailed, ResourceStore
from shared.fhir.search import SearchRequest
from shared.fhir.store import SearchResult, StoredVersion
from shared.fhir.tenancy import Tenancy

__all__ = ["DEFINITIONAL_TYPES", "SHARED_TENANT", "DefinitionStore", "seed_definitions"]

log = logging.getLogger(__name__)

SHARED_TENANT = "#service"
DEFINITIONAL_TYPES = frozenset({"CodeSystem", "ValueSet", "Questionnaire", "PlanDefinition", "Measure"})


def _with_shared(resource_type: str, tenants: Collection[str]) -> Collection[str]:
    if resource_type in DEFINITIONAL_TYPES:
        return Tenancy.of(tenants, SHARED_TENANT)  # keeps a staff caller's enrolled-only view
    return tenants


class DefinitionStore(ResourceStore):
    """The kernel's store, with the service's definitional resources visible to every practice."""

    def read(
        self, conn: Connection, resource_type: str, resource_id: str, *, tenants: Collection[str]
    ) -> dict[str, Any]:
        return super().read(conn, resource_type, resource_id, tenants=_with_shared(resource_type, tenants))

    def vread(
        self,
        conn: Connection,
        resource_type: str,
        resource_id: str,
        version: int,
        *,
        tenants: Collection[str],
    ) -> dict[str, Any]:
        shared = _with_shared(resource_type, tenants)
        return super().vread(conn, resource_type, resource_id, version, tenants=shared)

    def history(
        self,
        conn: Connection,
        resource_type: str,
        resource_id: str,
        *,
        tenants: Collection[str],
        count: int,
        offset: int = 0,
    ) -> tuple[int, list[StoredVersion]]:
        shared = _with_shared(resource_type, tenants)
        return super().history(conn, resource_type, resource_id, tenants=shared, count=count, offset=offset)

    def search(self, conn: Connection, request: SearchRequest, *, tenants: Collection[str]) -> SearchResult:
        return super().search(conn, request, tenants=_with_shared(request.resource_type, tenants))


def _same(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return {k: v for k, v in stored.items() if k != "meta"} == wanted


def seed_definitions(engine: Engine, store: ResourceStore, resources: Iterable[dict[str, Any]] = ()) -> int:
    """Store (or replace, when the file changed) each published resource; returns how many were written.

    Idempotent, and safe when several replicas start at once: a replica that loses the race to
    create a resource leaves it to the winner.
    """
    written = 0
    for resource in resources or definitions():
        try:
            with engine.begin() as conn:
                try:
                    current = store.read(
                        conn, resource["resourceType"], resource["id"], tenants={SHARED_TENANT}
                    )
                except NotFound:
                    current = None
                if current is not None and _same(current, resource):
                    continue
                store.update(conn, resource, tenants={SHARED_TENANT}, practice=SHARED_TENANT)
                written += 1
        except (IntegrityError, PreconditionFailed):
            log.info("definition %s/%s seeded by another replica", resource["resourceType"], resource["id"])
    return written
