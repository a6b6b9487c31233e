"""Persistence of the generic FHIR store: current versions, full history, and a search index.

Every row carries the owning practice (ODS code): the tenant every query is filtered by.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text
from sqlmodel import Field, SQLModel

__all__ = [
    "EnrolmentRow",
    "RequestRow",
    "ResourceHistoryRow",
    "ResourceRow",
    "SearchIndexRow",
    "enrolment_table",
    "history_table",
    "kernel_metadata",
    "request_table",
    "resource_table",
    "search_index_table",
]

kernel_metadata: MetaData = SQLModel.metadata


class ResourceRow(SQLModel, table=True):
    """The current version of every resource (deleted ones too, flagged)."""

    __tablename__ = "fhir_resource"
    __table_args__ = (
        Index("ix_fhir_resource_type_updated", "resource_type", "last_updated"),
        Index("ix_fhir_resource_practice", "resource_type", "practice"),
        Index("ix_fhir_resource_patient", "patient"),
    )

    resource_type: str = Field(sa_column=Column(String(64), primary_key=True))
    id: str = Field(sa_column=Column(String(64), primary_key=True))
    version_id: int = Field(sa_column=Column(Integer, nullable=False))
    last_updated: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    practice: str = Field(sa_column=Column(String(16), nullable=False))
    patient: str | None = Field(default=None, sa_column=Column(String(80), nullable=True))
    deleted: bool = Field(default=False, nullable=False)
    content: str = Field(sa_column=Column(Text, nullable=False))


class ResourceHistoryRow(SQLModel, table=True):
    """Every version ever written, for ``_history`` and ``vread``; deletes are versions too."""

    __tablename__ = "fhir_resource_history"

    resource_type: str = Field(sa_column=Column(String(64), primary_key=True))
    id: str = Field(sa_column=Column(String(64), primary_key=True))
    version_id: int = Field(sa_column=Column(Integer, primary_key=True))
    last_updated: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    practice: str = Field(sa_column=Column(String(16), nullable=False))
    method: str = Field(sa_column=Column(String(8), nullable=False))
    deleted: bool = Field(default=False, nullable=False)
    content: str = Field(sa_column=Column(Text, nullable=False))


class SearchIndexRow(SQLModel, table=True):
    """One row per indexed value of a search parameter of the current version of a resource.

    ``value`` holds a token's code, a reference ("Patient/123"), a lower-cased string, or for dates
    the low end of the range; ``value_high`` the high end of a date range.
    """

    __tablename__ = "fhir_search_index"
    __table_args__ = (
        Index("ix_fhir_search_lookup", "resource_type", "param", "value"),
        Index("ix_fhir_search_resource", "resource_type", "resource_id"),
    )

    row_id: int | None = Field(default=None, primary_key=True)
    resource_type: str = Field(sa_column=Column(String(64), nullable=False))
    resource_id: str = Field(sa_column=Column(String(64), nullable=False))
    param: str = Field(sa_column=Column(String(64), nullable=False))
    system: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    value: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    value_high: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class RequestRow(SQLModel, table=True):
    """X-Request-Id of every accepted write: a repeat is answered 409 duplicate, never processed twice."""

    __tablename__ = "fhir_request"

    practice: str = Field(sa_column=Column(String(16), primary_key=True))
    request_id: str = Field(sa_column=Column(String(128), primary_key=True))
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    location: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))


class EnrolmentRow(SQLModel, table=True):
    """Which patients are enrolled with which practice, per episode of care: what service staff may see.

    Written where enrolment happens (referral's ``$enrol``) and by each service's ``patient.enrolled`` and
    ``patient.discharged`` consumers. ``enrolled_at`` is None when the discharge arrived first (events of
    two consumers may arrive out of order); a row with ``discharged_at`` set no longer grants sight.
    """

    __tablename__ = "fhir_enrolment"
    __table_args__ = (Index("ix_fhir_enrolment_patient", "patient", "practice"),)

    practice: str = Field(sa_column=Column(String(16), primary_key=True))
    patient: str = Field(sa_column=Column(String(80), primary_key=True))
    episode: str = Field(sa_column=Column(String(80), primary_key=True))
    enrolled_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    discharged_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


# Core tables for the queries (SQLModel declares them; the store speaks SQLAlchemy Core).
resource_table: Table = ResourceRow.__table__  # type: ignore[attr-defined]
history_table: Table = ResourceHistoryRow.__table__  # type: ignore[attr-defined]
search_index_table: Table = SearchIndexRow.__table__  # type: ignore[attr-defined]
request_table: Table = RequestRow.__table__  # type: ignore[attr-defined]
enrolment_table: Table = EnrolmentRow.__table__  # type: ignore[attr-defined]
