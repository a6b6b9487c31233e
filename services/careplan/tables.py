"""The careplan service's own table, beside the kernel's FHIR store: facts for the service evaluation.

The evaluation counts things other services did (referrals received, invitations sent, enrolments,
discharges, medication reviews). Careplan learns them only from events, so each consumed event leaves
one row here: small, append-only, keyed by the resource it is about so that a fact is kept once.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, Numeric, String, Table, UniqueConstraint

__all__ = ["FACT_KINDS", "evaluation_fact", "metadata"]

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
