"""BaRS request idempotency: a write's ``X-Request-Id`` is claimed in the write's own transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from shared.fhir.errors import Duplicate
from shared.fhir.store import now_instant
from shared.fhir.tables import request_table

if TYPE_CHECKING:
    from shared.fhir.audit import RequestContext

__all__ = ["claim"]

T = request_table
DUPLICATE_TEXT = "the message has been identified as having already been processed."


def claim(conn: Connection, ctx: RequestContext) -> None:
    """Record the request id; 409 duplicate when this practice already sent it.

    Only ids the client chose count: generated ones are unique anyway and are not stored.
    """
    if not ctx.request_id_supplied:
        return
    practice = ctx.principal.practice
    seen = conn.execute(
        select(T.c.request_id).where(T.c.practice == practice, T.c.request_id == ctx.request_id)
    )
    if seen.first() is not None:
        raise Duplicate(DUPLICATE_TEXT)
    try:
        with conn.begin_nested():
            conn.execute(
                insert(T).values(practice=practice, request_id=ctx.request_id, received_at=now_instant())
            )
    except IntegrityError as exc:  # a concurrent twin won the race
        raise Duplicate(DUPLICATE_TEXT) from exc
