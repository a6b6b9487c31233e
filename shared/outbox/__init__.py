"""Transactional outbox, relay and inbox: events are never lost and never applied twice."""

from shared.outbox.admin import (
    DeadLetterInfo,
    OutboxLag,
    dead_letter_info,
    dead_letters,
    nats_dead_letters,
    outbox_lag,
    prune,
    replay_nats_dead_letter,
    request_replay,
)
from shared.outbox.inbox import EventHandler, Inbox
from shared.outbox.record import record_event, record_events
from shared.outbox.relay import OutboxRelay
from shared.outbox.tables import (
    create_outbox_tables_v1,
    dead_letter,
    drop_outbox_tables_v1,
    inbox,
    metadata,
    outbox,
)

__all__ = [
    "DeadLetterInfo",
    "EventHandler",
    "Inbox",
    "OutboxLag",
    "OutboxRelay",
    "create_outbox_tables_v1",
    "dead_letter",
    "dead_letter_info",
    "dead_letters",
    "drop_outbox_tables_v1",
    "inbox",
    "metadata",
    "nats_dead_letters",
    "outbox",
    "outbox_lag",
    "prune",
    "record_event",
    "record_events",
    "replay_nats_dead_letter",
    "request_replay",
]
