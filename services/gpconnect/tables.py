"""gpconnect's own tables: practice configuration, the patients it knows, and deliveries to GP systems.

``metadata`` describes the current shape; the migration ``0003`` creates it (frozen there).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["DELIVERY_STATES", "delivery", "metadata", "patient", "practice", "written_prescription"]

metadata = sa.MetaData()
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

DELIVERY_STATES = ("pending", "awaiting-decision", "done", "dead")

practice = sa.Table(
    "gp_practice",
    metadata,
    sa.Column("ods", sa.String(12), primary_key=True),
    sa.Column("supplier", sa.String(32), nullable=False),
    sa.Column("endpoint", sa.String(512), nullable=False),
    sa.Column("credentials_ref", sa.String(128), nullable=False, server_default=""),
    sa.Column("mesh_mailbox", sa.String(20), nullable=False, server_default=""),
    sa.Column("bars_endpoint", sa.String(512), nullable=False, server_default=""),
    sa.Column("allow_private", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
"""Which GP system each practice runs and where it is (no secrets: ``credentials_ref`` names one)."""

patient = sa.Table(
    "gp_patient",
    metadata,
    sa.Column("practice", sa.String(16), primary_key=True),
    sa.Column("patient_id", sa.String(64), primary_key=True),
    sa.Column("nhs_number", sa.String(10), nullable=False),
)
"""The referral service's Patient id to the NHS number the GP system knows the patient by."""

delivery = sa.Table(
    "gp_delivery",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(160), nullable=False),
    sa.Column("practice", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(128), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("remote_ref", sa.String(160), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("idempotency_key", name="uq_gp_delivery_key"),
    sa.Index("ix_gp_delivery_due", "state", "next_attempt_at"),
    sqlite_autoincrement=True,
)
"""One message to one GP system (or MESH), from one event: retried until done, else dead-lettered.

``payload`` is the CloudEvent it came from; ``remote_ref`` the far end's id (task, prescription, message).
"""

written_prescription = sa.Table(
    "gp_written_prescription",
    metadata,
    sa.Column("practice", sa.String(16), primary_key=True),
    sa.Column("our_reference", sa.String(160), primary_key=True),
    sa.Column("gp_id", sa.String(160), nullable=False),
    sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
)
"""Each prescription change written back: our order (``MedicationRequest/<id>``) to the id the GP system
gave the authorisation it created, so that the next change names that authorisation as the one it replaces."""
