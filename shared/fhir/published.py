"""Resources a service publishes to every practice (its CodeSystems, ValueSets, Questionnaires,
PlanDefinitions, Measures): seeded at start-up under ``SHARED_TENANT``, read by everyone, written by
no client (a client's write to such an id is "someone else's id": 404)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from shared.core.errors import NotFound, PreconditionFailed
from shared.core.principal import Tenancy
from shared.fhir.models import validate_resource
from shared.fhir.store import SHARED_TENANT, ResourceStore

__all__ = ["seed_published"]

log = logging.getLogger(__name__)


def _same(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return {k: v for k, v in stored.items() if k != "meta"} == {
        k: v for k, v in wanted.items() if k != "meta"
    }


def seed_published(engine: Engine, store: ResourceStore, resources: Iterable[dict[str, Any]]) -> int:
    """Store each published resource (by its own id), or a new version when its file changed.

    Returns how many were written. Idempotent, and safe when several replicas start at once: a replica
    that loses the race leaves the resource to the winner.
    """
    written = 0
    for resource in resources:
        validate_resource(resource)
        if resource["resourceType"] not in store.shared_types:
            raise ValueError(f"{resource['resourceType']} is not a shared type of this store")
        try:
            with engine.begin() as conn:
                try:
                    current = store.read(
                        conn, resource["resourceType"], resource["id"], tenants=Tenancy({SHARED_TENANT})
                    )
                except NotFound:
                    current = None
                if current is not None and _same(current, resource):
                    continue
                store.update(conn, resource, tenants=Tenancy({SHARED_TENANT}), practice=SHARED_TENANT)
                written += 1
        except (IntegrityError, PreconditionFailed):
            log.info("%s/%s seeded by another replica", resource["resourceType"], resource["id"])
    return written
