"""SQL for FHIR search: criteria to WHERE clauses over the search index, and _include/_revinclude."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, and_, or_, select

from shared.core.errors import BadRequest
from shared.core.principal import Tenancy
from shared.fhir.search import Criterion, SearchRequest
from shared.fhir.searchparams import SearchParams, date_range
from shared.fhir.tables import resource_table, search_index_table
from shared.fhir.tenancy import visible_rows

__all__ = ["included_resources", "read_many", "where_clause"]

R = resource_table
X = search_index_table


def _load(content: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(content)
    return value


def where_clause(resource_type: str, criteria: Sequence[Criterion], tenants: Tenancy) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = [
        R.c.resource_type == resource_type,
        R.c.deleted.is_(False),
        visible_rows(tenants),
    ]
    for criterion in criteria:
        name = criterion.param.name
        if name == "_id":
            clauses.append(R.c.id.in_([value for _, _, value in criterion.values]))
        elif name == "_lastUpdated":
            clauses.append(
                or_(
                    *(
                        date_clause(R.c.last_updated, R.c.last_updated, op, value, native=True)
                        for op, _, value in criterion.values
                    )
                )
            )
        else:
            alternatives = [
                index_clause(criterion, op, system, value) for op, system, value in criterion.values
            ]
            # ``id IN (the ids the index holds for this value)``, not a correlated EXISTS: both databases
            # then start from the index lookup (type, param, value) and fetch the few resources it names;
            # with EXISTS SQLite walked every resource of the type and practice, probing the index for each
            # (a search's CPU grew with the practice's resources, 3x PostgreSQL's at 1,000 Observations).
            clauses.append(
                R.c.id.in_(
                    select(X.c.resource_id).where(
                        X.c.resource_type == resource_type,
                        X.c.param == name,
                        or_(*alternatives),
                    )
                )
            )
    return and_(*clauses)


def index_clause(criterion: Criterion, op: str, system: str | None, value: str) -> ColumnElement[bool]:
    kind = criterion.param.type
    clause: ColumnElement[bool]
    if kind == "token":
        clause = X.c.value == value if value else X.c.value.is_not(None)
        if system is not None:
            clause = and_(clause, X.c.system == system if system else X.c.system.is_(None))
    elif kind == "reference":
        clause = X.c.value == value
        if "/" not in value:
            clause = or_(clause, X.c.value.like(f"%/{value}"))
    elif kind == "string":
        # The index keeps strings in lower case (and the query's value is lowered): ":contains" and the
        # default starts-with are case-insensitive, as R4 has them; ":exact" is refused (``search``).
        if op == "contains":
            clause = X.c.value.contains(value, autoescape=True)
        else:
            clause = X.c.value.startswith(value, autoescape=True)
    else:
        clause = date_clause(X.c.value, X.c.value_high, op, value, native=False)
    return clause


def date_clause(low: Any, high: Any, op: str, value: str, *, native: bool) -> ColumnElement[bool]:
    span = date_range(value)
    if span is None:
        raise BadRequest(f"'{value}' is not a valid date")
    q_low: Any = span[0]
    q_high: Any = span[1]
    if native:
        q_low = datetime.fromisoformat(span[0]).replace(tzinfo=UTC)
        q_high = datetime.fromisoformat(span[1]).replace(tzinfo=UTC)
    clause: ColumnElement[bool]
    if op == "eq":
        clause = and_(low >= q_low, high <= q_high)
    elif op == "ne":
        clause = or_(low > q_high, high < q_low)
    elif op in ("lt", "eb"):
        clause = low < q_low if op == "lt" else high < q_low
    elif op in ("gt", "sa"):
        clause = high > q_high if op == "gt" else low > q_high
    elif op == "le":
        clause = low <= q_high
    else:  # ge
        clause = high >= q_low
    return clause


def included_resources(
    conn: Connection,
    request: SearchRequest,
    matches: list[dict[str, Any]],
    tenants: Tenancy,
    params: SearchParams,
) -> list[dict[str, Any]]:
    if not matches or not (request.includes or request.revincludes):
        return []
    ids = [m["id"] for m in matches]
    seen = {(m["resourceType"], m["id"]) for m in matches}
    found: list[dict[str, Any]] = []
    for source, param, target in request.includes:
        if source != request.resource_type:
            continue
        refs = (
            conn.execute(
                select(X.c.value).where(
                    X.c.resource_type == source, X.c.param == param, X.c.resource_id.in_(ids)
                )
            )
            .scalars()
            .all()
        )
        for ref in set(refs):
            if ref and ref.count("/") == 1:
                ref_type, ref_id = ref.split("/")
                if target in (None, ref_type) and (ref_type, ref_id) not in seen:
                    found.extend(read_many(conn, ref_type, [ref_id], tenants))
                    seen.add((ref_type, ref_id))
    for source, param, _target in request.revincludes:
        if param not in params.of(source):
            continue
        refs = [f"{request.resource_type}/{i}" for i in ids]
        rev_ids = (
            conn.execute(
                select(X.c.resource_id).where(
                    X.c.resource_type == source, X.c.param == param, X.c.value.in_(refs)
                )
            )
            .scalars()
            .all()
        )
        fresh = [i for i in set(rev_ids) if (source, i) not in seen]
        found.extend(read_many(conn, source, fresh, tenants))
        seen.update((source, i) for i in fresh)
    return found


def read_many(conn: Connection, resource_type: str, ids: list[str], tenants: Tenancy) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = conn.execute(
        select(R.c.content).where(
            R.c.resource_type == resource_type,
            R.c.id.in_(ids),
            visible_rows(tenants),
            R.c.deleted.is_(False),
        )
    ).all()
    return [_load(r.content) for r in rows]
