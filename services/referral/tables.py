"""The referral service's own tables, beside the kernel's generic FHIR store (persistence only).

``bars_message``   every BaRS message processed: its id (for duplicates and ``response.identifier``),
                   timestamp (an update older than the latest held is refused) and MessageHeader
                   (travels in ``referral.accepted``/``rejected`` so gpconnect can answer the sender)
``bars_resource``  the sender's ``fullUrl`` of each resource a message carried -> our id, so that an
                   update message changes the resources it sent before instead of copying them
``invitation_template``  a practice's adapted invitation letter and the details it fills in
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text

__all__ = ["bars_message", "bars_resource", "invitation_template", "referral_metadata"]

referral_metadata = MetaData()

bars_message = Table(
    "bars_message",
    referral_metadata,
    Column("practice", String(16), primary_key=True),
    Column("message_id", String(128), primary_key=True),
    Column("reason", String(16), nullable=False),
    Column("service_request_id", String(64), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("header", Text, nullable=False),
    Index("ix_bars_message_service_request", "service_request_id"),
)

bars_resource = Table(
    "bars_resource",
    referral_metadata,
    Column("practice", String(16), primary_key=True),
    Column("sender_url", String(255), primary_key=True),
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(64), nullable=False),
)

invitation_template = Table(
    "invitation_template",
    referral_metadata,
    Column("practice", String(16), primary_key=True),
    Column("template", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
