"""Frozen migration steps for the kernel tables, called from each service's alembic history.

A step is never edited once released: a change to ``tables.py`` gets a new ``vN`` pair here and a
new revision in every service.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = [
    "create_enrolment_table_v2",
    "create_kernel_tables_v1",
    "drop_enrolment_table_v2",
    "drop_kernel_tables_v1",
]


def create_kernel_tables_v1(op: Any) -> None:
    op.create_table(
        "fhir_resource",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("practice", sa.String(16), nullable=False),
        sa.Column("patient", sa.String(80), nullable=True),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
    )
    op.create_index("ix_fhir_resource_type_updated", "fhir_resource", ["resource_type", "last_updated"])
    op.create_index("ix_fhir_resource_practice", "fhir_resource", ["resource_type", "practice"])
    op.create_index("ix_fhir_resource_patient", "fhir_resource", ["patient"])
    op.create_table(
        "fhir_resource_history",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, primary_key=True),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("practice", sa.String(16), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
    )
    op.create_table(
        "fhir_search_index",
        sa.Column("row_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("system", sa.String(255), nullable=True),
        sa.Column("value", sa.String(255), nullable=True),
        sa.Column("value_high", sa.String(64), nullable=True),
    )
    op.create_index("ix_fhir_search_lookup", "fhir_search_index", ["resource_type", "param", "value"])
    op.create_index("ix_fhir_search_resource", "fhir_search_index", ["resource_type", "resource_id"])
    op.create_table(
        "fhir_request",
        sa.Column("practice", sa.String(16), primary_key=True),
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop_kernel_tables_v1(op: Any) -> None:
    op.drop_table("fhir_request")
    op.drop_index("ix_fhir_search_resource", table_name="fhir_search_index")
    op.drop_index("ix_fhir_search_lookup", table_name="fhir_search_index")
    op.drop_table("fhir_search_index")
    op.drop_table("fhir_resource_history")
    op.drop_index("ix_fhir_resource_patient", table_name="fhir_resource")
    op.drop_index("ix_fhir_resource_practice", table_name="fhir_resource")
    op.drop_index("ix_fhir_resource_type_updated", table_name="fhir_resource")
    op.drop_table("fhir_resource")


def create_enrolment_table_v2(op: Any) -> None:
    """Enrolments per practice and episode: the tenancy filter of service staff (see ``tenancy.py``)."""
    op.create_table(
        "fhir_enrolment",
        sa.Column("practice", sa.String(16), primary_key=True),
        sa.Column("patient", sa.String(80), primary_key=True),
        sa.Column("episode", sa.String(80), primary_key=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_fhir_enrolment_patient", "fhir_enrolment", ["patient", "practice"])


def drop_enrolment_table_v2(op: Any) -> None:
    op.drop_index("ix_fhir_enrolment_patient", table_name="fhir_enrolment")
    op.drop_table("fhir_enrolment")


def add_request_location_v3(op: Any) -> None:
    """Where an accepted create was stored (``Type/id/_history/n``): a repeated ``X-Request-Id`` is answered
    409 with that ``Location``, so a sender that lost its 201 finds what it created without a search."""
    with op.batch_alter_table("fhir_request") as batch:
        batch.add_column(sa.Column("location", sa.String(255), nullable=True))


def drop_request_location_v3(op: Any) -> None:
    with op.batch_alter_table("fhir_request") as batch:
        batch.drop_column("location")


def backfill_patients_v3(op: Any) -> None:
    """Record the patient of stored resources written before every patient reference was resolved
    (absolute, versioned or identifier-only references left ``patient`` empty, so service staff saw them
    whatever the enrolment): the kernel's own ``patient_of``, as every write now records it. Only empty
    rows change; nothing to undo on downgrade (the column was already there)."""
    import orjson

    from shared.fhir.searchparams import patient_of

    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT resource_type, id, content FROM fhir_resource WHERE patient IS NULL")
    ).all()
    for row in rows:
        resource = orjson.loads(row.content)
        if not isinstance(resource, dict) or "resourceType" not in resource:
            continue  # not a resource body this function can read: left as it was
        patient = patient_of(resource)
        if patient is not None:
            conn.execute(
                sa.text(
                    "UPDATE fhir_resource SET patient = :patient WHERE resource_type = :type AND id = :id"
                ),
                {"patient": patient, "type": row.resource_type, "id": row.id},
            )


SQLITE_PLANNER_STATS_V4 = (
    ("fhir_resource", "sqlite_autoindex_fhir_resource_1", "100000 10000 1"),
    ("fhir_resource", "ix_fhir_resource_type_updated", "100000 10000 1"),
    ("fhir_resource", "ix_fhir_resource_practice", "100000 10000 10000"),
    ("fhir_resource", "ix_fhir_resource_patient", "100000 50"),
    ("fhir_search_index", "ix_fhir_search_lookup", "1000000 100000 10000 10 10 10 1"),
    ("fhir_search_index", "ix_fhir_search_resource", "1000000 100000 10"),
)
"""What SQLite's planner is told of the kernel's indexes (``sqlite_stat1``: rows in the table, then rows
per distinct value of each leading column prefix): 100,000 resources of 10 types, nearly all of a type
in one practice (the practice narrows nothing), 50 per patient; 10 index rows per resource, 10 per
(type, param, value), one per resource among them. Without statistics SQLite guesses that every ``=``
on an indexed column leaves 10 rows, so a search walked every resource of its type and practice
through ``ix_fhir_resource_practice`` (or ``ix_fhir_resource_type_updated`` for its page), probing
each search parameter's id list, rather than fetching the few resources the lookup names by primary
key: Observation?patient=...&code=... at 1,700 Observations read all 1,700 twice (the total, then the
page). PostgreSQL keeps its own statistics (autovacuum's ANALYZE); SQLite has none unless someone runs
ANALYZE, so these fixed figures stand in for them (SQLite's documented way to steer its planner:
https://sqlite.org/optoverview.html#manctrl). A real ANALYZE later replaces them with the database's
own figures."""


def cover_search_lookup_v4(op: Any) -> None:
    """``ix_fhir_search_lookup`` holds every column a search reads from the index, ``resource_id`` last:
    SQLite and PostgreSQL answer the lookup from the index without visiting the table."""
    op.drop_index("ix_fhir_search_lookup", table_name="fhir_search_index")
    op.create_index(
        "ix_fhir_search_lookup",
        "fhir_search_index",
        ["resource_type", "param", "value", "system", "value_high", "resource_id"],
    )


def uncover_search_lookup_v4(op: Any) -> None:
    op.drop_index("ix_fhir_search_lookup", table_name="fhir_search_index")
    op.create_index("ix_fhir_search_lookup", "fhir_search_index", ["resource_type", "param", "value"])


def seed_sqlite_planner_stats_v4(op: Any) -> None:
    """Write ``SQLITE_PLANNER_STATS_V4`` into ``sqlite_stat1`` (SQLite only; PostgreSQL keeps its own)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("ANALYZE sqlite_master")  # creates sqlite_stat1 when the database has none yet
    op.execute("DELETE FROM sqlite_stat1 WHERE tbl IN ('fhir_resource', 'fhir_search_index')")
    for table, index, stat in SQLITE_PLANNER_STATS_V4:
        op.execute(
            sa.text("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (:t, :i, :s)").bindparams(
                t=table, i=index, s=stat
            )
        )
    op.execute("ANALYZE sqlite_master")  # the planner reloads sqlite_stat1


def drop_sqlite_planner_stats_v4(op: Any) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DELETE FROM sqlite_stat1 WHERE tbl IN ('fhir_resource', 'fhir_search_index')")
    op.execute("ANALYZE sqlite_master")
