"""The outbox, inbox and dead-letter tables every service database holds.

``metadata`` describes the current shape (for queries and tests); ``create_outbox_tables_v1`` /
``drop_outbox_tables_v1`` are the frozen migration steps a service's alembic history calls. A later
change to these tables adds a ``..._v2`` step and updates ``metadata``; v1 never changes.

All times are UTC. SQLite stores them without an offset; :func:`as_utc` reads them back as aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shared.db.times import as_utc

__all__ = [
    "as_utc",
    "create_outbox_tables_v1",
    "dead_letter",
    "drop_outbox_tables_v1",
    "inbox",
    "metadata",
    "outbox",
    "utcnow",
]

metadata = sa.MetaData()

# BIGINT on PostgreSQL; SQLite only auto-increments a column declared exactly INTEGER.
_Sequence = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PENDING = sa.text("published_at IS NULL")

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("sequence", _Sequence, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(128), nullable=False),
    sa.Column("subject", sa.String(256), nullable=False),
    sa.Column("practice", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    sa.Index("ix_outbox_pending", "sequence", postgresql_where=_PENDING, sqlite_where=_PENDING),
    sqlite_autoincrement=True,
)
"""Events a producer committed with its state change; the relay publishes them in ``sequence`` order."""

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("consumer", sa.String(128), primary_key=True),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
)
"""Events a consumer applied, recorded in the same transaction as the effect."""

dead_letter = sa.Table(
    "dead_letter",
    metadata,
    sa.Column("id", _Sequence, primary_key=True, autoincrement=True),
    sa.Column("consumer", sa.String(128), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(128), nullable=False),
    sa.Column("practice", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("error", sa.Text(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("dead_lettered_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("replay_requested_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("consumer", "event_id", name="uq_dead_letter_consumer_event"),
    sqlite_autoincrement=True,
)
"""Events a consumer gave up on (in-process transport; NATS keeps its dead letters in the stream)."""


def create_outbox_tables_v1(op: Any) -> None:
    """Alembic ``upgrade`` step: create ``outbox``, ``inbox`` and ``dead_letter`` (version 1, frozen).

    ``op`` is ``alembic.op`` (or an ``alembic.operations.Operations``).
    """
    sequence = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    pending = sa.text("published_at IS NULL")
    op.create_table(
        "outbox",
        sa.Column("sequence", sequence, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("practice", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_outbox_pending", "outbox", ["sequence"], postgresql_where=pending, sqlite_where=pending
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "dead_letter",
        sa.Column("id", sequence, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("practice", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("dead_lettered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replay_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("consumer", "event_id", name="uq_dead_letter_consumer_event"),
        sqlite_autoincrement=True,
    )


def drop_outbox_tables_v1(op: Any) -> None:
    """Alembic ``downgrade`` step undoing :func:`create_outbox_tables_v1`."""
    op.drop_table("dead_letter")
    op.drop_table("inbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")


def utcnow() -> datetime:
    return datetime.now(UTC)
