"""The generic, versioned, tenant-filtered FHIR resource store (the repository of the kernel).

Every method takes the caller's open ``Connection`` so that a handler can write resources, audit
records and outbox events in one transaction, and the tenants (practice ODS codes) it may touch:
the filter lives here, in the repository, so no route can forget it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, insert, select, update

from shared.core.errors import Gone, NotFound, PreconditionFailed
from shared.db.times import as_utc
from shared.fhir.search import SearchRequest, parse_search
from shared.fhir.search_sql import included_resources, where_clause
from shared.fhir.searchparams import SearchParams, patient_of
from shared.fhir.store_write import index_rows, insert_new, stamp, version_row
from shared.fhir.store_write import instant as _instant
from shared.fhir.tables import history_table, resource_table, search_index_table
from shared.fhir.tenancy import Tenancy, history_visible, visible_rows

__all__ = ["SHARED_TENANT", "ResourceStore", "SearchResult", "StoredVersion", "new_id", "now_instant"]

SHARED_TENANT = "#shared"
"""Not an ODS code, so no caller acts for it: writes can never reach shared resources through the API."""

R = resource_table
H = history_table
X = search_index_table


def new_id() -> str:
    return str(uuid.uuid4())


def now_instant() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredVersion:
    resource: dict[str, Any]
    version_id: int
    deleted: bool
    method: str
    last_updated: str
    practice: str


@dataclass
class SearchResult:
    total: int
    resources: list[dict[str, Any]]
    included: list[dict[str, Any]] = field(default_factory=list)


def _load(content: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(content)
    return value


class ResourceStore:
    """Create, read, vread, update, delete, history and search over the kernel tables."""

    def __init__(
        self,
        *,
        default_count: int = 20,
        max_count: int = 100,
        shared_types: Collection[str] = (),
        search_params: SearchParams | None = None,
    ) -> None:
        self.default_count = default_count
        self.max_count = max_count
        # What this store indexes and searches by: the standard parameters unless its service's
        # composition gives its own (see ``FhirKernel.search_param``).
        self.search_params = search_params or SearchParams.standard()
        # Definitional resources the service publishes to every practice (CodeSystem, Questionnaire,
        # ...) live under SHARED_TENANT; reads of these types see them besides the caller's own.
        self.shared_types = frozenset(shared_types)

    def visible(self, resource_type: str, tenants: Tenancy) -> Tenancy:
        """The tenants a read of ``resource_type`` may see: the caller's, plus the shared ones."""
        if resource_type in self.shared_types:
            return Tenancy.of(tenants, SHARED_TENANT)
        return tenants

    # ---- writes -------------------------------------------------------------------------------
    def create(
        self, conn: Connection, resource: dict[str, Any], *, practice: str, resource_id: str | None = None
    ) -> dict[str, Any]:
        """Store a new resource (server-assigned id unless given) as version 1."""
        resource = dict(resource)
        resource["id"] = resource_id or new_id()
        return self._write(conn, resource, practice=practice, version=1, method="POST", insert_new=True)

    def create_many(
        self, conn: Connection, resources: Sequence[Sequence[dict[str, Any]]], *, practice: str
    ) -> None:
        """Insert new resources, each given as its successive versions (from ``stamp``), in three
        multi-row statements: the rows `create` and then `update` would write for each version."""
        insert_new(conn, [(practice, versions) for versions in resources], self.search_params)

    def update(
        self,
        conn: Connection,
        resource: dict[str, Any],
        *,
        tenants: Tenancy,
        practice: str,
        if_match: int | None = None,
        create: bool = True,
    ) -> tuple[dict[str, Any], bool]:
        """Replace a resource; create it when it does not exist (update-as-create), unless ``create`` is
        False (the REST PUT): an id nobody holds then answers 404 exactly as another practice's id does.

        Returns the stored resource and whether it was created. ``if_match`` must equal the
        current version or the update fails with 412 and nothing changes.
        """
        resource_type, resource_id = resource["resourceType"], resource["id"]
        current = conn.execute(
            select(R.c.version_id, R.c.practice, R.c.deleted).where(
                R.c.resource_type == resource_type, R.c.id == resource_id
            )
        ).first()
        if current is None or current.practice not in tenants:
            if if_match is not None:
                raise PreconditionFailed(f"{resource_type}/{resource_id} does not exist (If-Match given)")
            if current is not None or not create:  # someone else's id, or none: the same answer
                raise NotFound(f"{resource_type}/{resource_id} is not known")
            return self._write(
                conn, resource, practice=practice, version=1, method="PUT", insert_new=True
            ), True
        if if_match is not None and if_match != current.version_id:
            raise PreconditionFailed(
                f"If-Match version {if_match} does not match the current version {current.version_id}"
            )
        stored = self._write(
            conn,
            resource,
            practice=current.practice,
            version=current.version_id + 1,
            method="PUT",
            insert_new=False,
            expected_version=current.version_id,
        )
        return stored, False

    def delete(self, conn: Connection, resource_type: str, resource_id: str, *, tenants: Tenancy) -> int:
        """Soft-delete: a new version flagged deleted; reads then answer 410. Returns the version."""
        current = conn.execute(
            select(R.c.version_id, R.c.practice, R.c.deleted, R.c.content).where(
                R.c.resource_type == resource_type, R.c.id == resource_id, R.c.practice.in_(list(tenants))
            )
        ).first()
        if current is None:
            raise NotFound(f"{resource_type}/{resource_id} is not known")
        if current.deleted:
            return int(current.version_id)
        version, moment = current.version_id + 1, now_instant()
        tombstone = {
            "resourceType": resource_type,
            "id": resource_id,
            "meta": {"versionId": str(version), "lastUpdated": _instant(moment)},
        }
        content = orjson.dumps(tombstone).decode()
        changed = conn.execute(
            update(R)
            .where(
                R.c.resource_type == resource_type,
                R.c.id == resource_id,
                R.c.version_id == current.version_id,
            )
            .values(version_id=version, last_updated=moment, deleted=True, content=content)
        ).rowcount
        if changed != 1:
            raise PreconditionFailed(f"{resource_type}/{resource_id} changed while it was being deleted")
        conn.execute(
            insert(H).values(
                resource_type=resource_type,
                id=resource_id,
                version_id=version,
                last_updated=moment,
                practice=current.practice,
                method="DELETE",
                deleted=True,
                content=content,
            )
        )
        conn.execute(delete(X).where(X.c.resource_type == resource_type, X.c.resource_id == resource_id))
        return int(version)

    def _write(
        self,
        conn: Connection,
        resource: dict[str, Any],
        *,
        practice: str,
        version: int,
        method: str,
        insert_new: bool,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        moment = now_instant()
        resource = stamp(resource, version, moment)
        resource_type, resource_id = resource["resourceType"], resource["id"]
        history = version_row(resource, practice, method, moment)
        row = {k: v for k, v in history.items() if k not in ("resource_type", "id", "method")}
        row["patient"] = patient_of(resource)
        if insert_new:
            conn.execute(insert(R).values(resource_type=resource_type, id=resource_id, **row))
        else:
            changed = conn.execute(
                update(R)
                .where(
                    R.c.resource_type == resource_type,
                    R.c.id == resource_id,
                    R.c.version_id == expected_version,
                )
                .values(**row)
            ).rowcount
            if changed != 1:
                raise PreconditionFailed(f"{resource_type}/{resource_id} was changed by another request")
            conn.execute(delete(X).where(X.c.resource_type == resource_type, X.c.resource_id == resource_id))
        conn.execute(insert(H).values(**history))
        if index := index_rows(resource, self.search_params):
            conn.execute(insert(X), index)
        return resource

    # ---- reads --------------------------------------------------------------------------------
    def read(
        self, conn: Connection, resource_type: str, resource_id: str, *, tenants: Tenancy
    ) -> dict[str, Any]:
        tenants = self.visible(resource_type, tenants)
        row = conn.execute(
            select(R.c.content, R.c.deleted).where(
                R.c.resource_type == resource_type, R.c.id == resource_id, visible_rows(tenants)
            )
        ).first()
        if row is None:
            raise NotFound(f"{resource_type}/{resource_id} is not known")
        if row.deleted:
            raise Gone(f"{resource_type}/{resource_id} has been deleted")
        return _load(row.content)

    def vread(
        self,
        conn: Connection,
        resource_type: str,
        resource_id: str,
        version: int,
        *,
        tenants: Tenancy,
    ) -> dict[str, Any]:
        tenants = self.visible(resource_type, tenants)
        row = conn.execute(
            select(H.c.content, H.c.deleted).where(
                H.c.resource_type == resource_type,
                H.c.id == resource_id,
                H.c.version_id == version,
                history_visible(tenants),
            )
        ).first()
        if row is None:
            raise NotFound(f"{resource_type}/{resource_id}/_history/{version} is not known")
        if row.deleted:
            raise Gone(f"{resource_type}/{resource_id} version {version} is a deletion")
        return _load(row.content)

    def history(
        self,
        conn: Connection,
        resource_type: str,
        resource_id: str,
        *,
        tenants: Tenancy,
        count: int,
        offset: int = 0,
    ) -> tuple[int, list[StoredVersion]]:
        tenants = self.visible(resource_type, tenants)
        where = and_(H.c.resource_type == resource_type, H.c.id == resource_id, history_visible(tenants))
        total = conn.execute(select(func.count()).select_from(H).where(where)).scalar_one()
        if total == 0:
            raise NotFound(f"{resource_type}/{resource_id} is not known")
        rows = conn.execute(
            select(H).where(where).order_by(H.c.version_id.desc()).limit(count).offset(offset)
        ).all()
        return total, [
            StoredVersion(
                _load(r.content),
                r.version_id,
                r.deleted,
                r.method,
                _instant(as_utc(r.last_updated)),
                r.practice,
            )
            for r in rows
        ]

    def current_version(
        self, conn: Connection, resource_type: str, resource_id: str, *, tenants: Tenancy
    ) -> int | None:
        return conn.execute(
            select(R.c.version_id).where(
                R.c.resource_type == resource_type,
                R.c.id == resource_id,
                visible_rows(tenants),
                R.c.deleted.is_(False),
            )
        ).scalar_one_or_none()

    # ---- search -------------------------------------------------------------------------------
    def query(
        self,
        resource_type: str,
        items: Iterable[tuple[str, str]],
        *,
        count: int | None = None,
        lenient: bool = False,
    ) -> SearchRequest:
        """A search of ``resource_type`` by this store's parameters (unknown ones, and modifiers not
        served, are a 400; with ``lenient`` they are left out, in ``dropped``); ``count`` sets both the
        page size and its cap (otherwise the store's own)."""
        return parse_search(
            resource_type,
            items,
            params=self.search_params,
            default_count=self.default_count if count is None else count,
            max_count=self.max_count if count is None else count,
            lenient=lenient,
        )

    def search(self, conn: Connection, request: SearchRequest, *, tenants: Tenancy) -> SearchResult:
        where = where_clause(
            request.resource_type, request.criteria, self.visible(request.resource_type, tenants)
        )
        count = select(func.count()).select_from(R).where(where)
        if request.summary_count or request.count == 0:
            return SearchResult(conn.execute(count).scalar_one(), [])
        order = {
            "-_lastUpdated": (R.c.last_updated.desc(), R.c.id),
            "_lastUpdated": (R.c.last_updated, R.c.id),
            "_id": (R.c.id,),
            "-_id": (R.c.id.desc(),),
        }[request.sort]
        rows = conn.execute(
            select(R.c.content).where(where).order_by(*order).limit(request.count).offset(request.offset)
        ).all()
        # A page short of _count is the last: the total is what it and the pages before it hold, so the
        # search is not run a second time to count (an empty page past the first says nothing of them).
        if len(rows) < request.count and (rows or request.offset == 0):
            total = request.offset + len(rows)
        else:
            total = conn.execute(count).scalar_one()
        resources = [_load(r.content) for r in rows]
        included = included_resources(conn, request, resources, tenants, self.search_params)
        return SearchResult(total, resources, included)
