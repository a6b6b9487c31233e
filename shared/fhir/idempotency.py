"""BaRS request idempotency: a write's ``X-Request-Id`` is claimed in the write's own transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shared.core.errors import Duplicate
from shared.fhir.store import now_instant
from shared.fhir.tables import request_table

if TYPE_CHECKING:
    from shared.fhir.audit import RequestContext

__all__ = ["claim", "remember_location"]

T = request_table
DUPLICATE_TEXT = "the message has been identified as having already been processed."
_KEY = [T.c.practice, T.c.request_id]
_CLAIMS = {  # RETURNING the key: a row back is our claim (rowcount is not reliable for inserts)
    "postgresql": postgresql.insert(T).on_conflict_do_nothing(index_elements=_KEY).returning(T.c.request_id),
    "sqlite": sqlite.insert(T).on_conflict_do_nothing(index_elements=_KEY).returning(T.c.request_id),
}


def claim(conn: Connection, ctx: RequestContext) -> None:
    """Record the request id; 409 duplicate when this practice already sent it.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: no row inserted means the id is taken, by a committed
    request or by a concurrent twin (PostgreSQL makes this insert wait for the twin's transaction:
    a twin that commits wins, one that rolls back leaves the id to us). Only ids the client chose
    count: generated ones are unique anyway and are not stored.
    """
    if not ctx.request_id_supplied:
        return
    row = {"practice": ctx.principal.practice, "request_id": ctx.request_id, "received_at": now_instant()}
    if conn.execute(_CLAIMS[conn.dialect.name], row).first() is None:
        original = conn.execute(
            select(T.c.location).where(T.c.practice == row["practice"], T.c.request_id == row["request_id"])
        ).scalar()
        raise Duplicate(DUPLICATE_TEXT, location=original)


def remember_location(conn: Connection, ctx: RequestContext, location: str) -> None:
    """Keep where the claimed request's resource was stored (``Type/id/_history/n``, relative to the FHIR
    base), in the same transaction, so that a repeat's 409 can name it."""
    if not ctx.request_id_supplied:
        return
    conn.execute(
        update(T)
        .where(T.c.practice == ctx.principal.practice, T.c.request_id == ctx.request_id)
        .values(location=location)
    )
