"""Persistence of the generic FHIR store: current versions, full history, and a search index.

Every row carries the owning practice (ODS code): the tenant every query is filtered by.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text

__all__ = [
    "enrolment_table",
    "history_table",
    "kernel_metadata",
    "request_table",
    "resource_table",
    "search_index_table",
]

kernel_metadata = MetaData()
"""The kernel's tables, declared in SQLAlchemy Core like every other table here (``shared.outbox``,
``shared.bus``, each service's ``tables.py``); the migrations in ``schema.py`` create exactly these
(``tests/unit/kernel/test_kernel_tables.py`` compares them)."""

resource_table = Table(
    "fhir_resource",
    kernel_metadata,
    Column("resource_type", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", DateTime(timezone=True), nullable=False),
    Column("practice", String(16), nullable=False),
    Column("patient", String(80), nullable=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("content", Text, nullable=False),
    Index("ix_fhir_resource_type_updated", "resource_type", "last_updated"),
    Index("ix_fhir_resource_practice", "resource_type", "practice"),
    Index("ix_fhir_resource_patient", "patient"),
)
"""The current version of every resource (deleted ones too, flagged)."""

history_table = Table(
    "fhir_resource_history",
    kernel_metadata,
    Column("resource_type", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("version_id", Integer, primary_key=True),
    Column("last_updated", DateTime(timezone=True), nullable=False),
    Column("practice", String(16), nullable=False),
    Column("method", String(8), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("content", Text, nullable=False),
)
"""Every version ever written, for ``_history`` and ``vread``; deletes are versions too."""

search_index_table = Table(
    "fhir_search_index",
    kernel_metadata,
    Column("row_id", Integer, primary_key=True, autoincrement=True),
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(64), nullable=False),
    Column("param", String(64), nullable=False),
    Column("system", String(255), nullable=True),
    Column("value", String(255), nullable=True),
    Column("value_high", String(64), nullable=True),
    # Covering: a lookup reads the ids (and the system and high end it checks) from the index alone,
    # not one table row per match (1,700 seeks for a code every Observation carries).
    Index("ix_fhir_search_lookup", "resource_type", "param", "value", "system", "value_high", "resource_id"),
    Index("ix_fhir_search_resource", "resource_type", "resource_id"),
)
"""One row per indexed value of a search parameter of the current version of a resource.

``value`` holds a token's code, a reference ("Patient/123"), a lower-cased string, or for dates the low
end of the range; ``value_high`` the high end of a date range."""

request_table = Table(
    "fhir_request",
    kernel_metadata,
    Column("practice", String(16), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("location", String(255), nullable=True),
)
"""X-Request-Id of every accepted write: a repeat is answered 409 duplicate, never processed twice."""

enrolment_table = Table(
    "fhir_enrolment",
    kernel_metadata,
    Column("practice", String(16), primary_key=True),
    Column("patient", String(80), primary_key=True),
    Column("episode", String(80), primary_key=True),
    Column("enrolled_at", DateTime(timezone=True), nullable=True),
    Column("discharged_at", DateTime(timezone=True), nullable=True),
    Index("ix_fhir_enrolment_patient", "patient", "practice"),
)
"""Which patients are enrolled with which practice, per episode of care: what service staff may see.

Written where enrolment happens (referral's ``$enrol``) and by each service's ``patient.enrolled`` and
``patient.discharged`` consumers. ``enrolled_at`` is None when the discharge arrived first (events of two
consumers may arrive out of order); a row with ``discharged_at`` set no longer grants sight."""
