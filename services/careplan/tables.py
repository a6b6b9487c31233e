"""The careplan service's own table, beside the kernel's FHIR store: facts for the service evaluation.

The evaluation counts things other services did (referrals received, invitations sent, enrolments,
discharges, medication reviews). Careplan learns them only from events, so each consumed event leaves
one row here: small, append-only, keyed by the resource it is about so that a fact is kept once.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)

__all__ = ["FACT_KINDS", "evaluation_fact", "medication_review", "metadata"]

metadata = MetaData()

FACT_KINDS = (
    "referral-received",
    "referral-accepted",
    "referral-rejected",
    "invited",
    "consented",
    "enrolled",
    "discharged",
    "ome",
)

evaluation_fact = Table(
    "careplan_evaluation_fact",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("practice", String(16), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("subject", String(140), nullable=False),  # the resource the fact is about, <Type>/<id>
    Column("patient", String(80), nullable=True),  # Patient/<referral id>
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("value", Numeric(12, 3), nullable=True),  # total daily OME, mg/day, for kind "ome"
    Column("note", String(200), nullable=True),  # why an "ome" fact has no value (careplan_0007)
    UniqueConstraint("kind", "subject", name="uq_careplan_fact_kind_subject"),
    Index("ix_careplan_fact_practice_kind", "practice", "kind", "occurred_at"),
)

medication_review = Table(
    "careplan_medication_review",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("practice", String(16), nullable=False),
    Column("patient", String(80), nullable=False),  # Patient/<id>
    Column("review", String(140), nullable=False),  # the total OME Observation, Observation/<id>
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
    Column("total_ome", Numeric(12, 3), nullable=True),  # mg/day; a lower bound when lower_bound
    Column("lower_bound", Boolean, nullable=False),  # comparator ">=": an opioid's dose not computable
    Column("flags", String(400), nullable=False),  # the review's DetectedIssue codes (medreview-risk), spaced
    UniqueConstraint("review", name="uq_careplan_medication_review"),
    Index("ix_careplan_medication_review_patient", "practice", "patient", "reviewed_at"),
)
"""Each medication review careplan heard of (``medreview.completed``), for the monthly MDT agenda: the total
daily OME and the risk flags raised. One row per review, so a redelivered event is kept once."""
