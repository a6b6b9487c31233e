"""Prometheus metrics of the event backbone, all named ``painreview_events_*``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "DEAD_LETTERED",
    "DELIVERED",
    "DUPLICATES",
    "OUTBOX_LAG",
    "OUTBOX_OLDEST_AGE",
    "PUBLISHED",
    "PUBLISH_FAILURES",
    "REDELIVERED",
]

PUBLISHED = Counter(
    "painreview_events_published", "Outbox events the transport confirmed.", ["outbox", "type"]
)
PUBLISH_FAILURES = Counter(
    "painreview_events_publish_failures", "Publishes the transport did not confirm.", ["outbox", "type"]
)
DELIVERED = Counter(
    "painreview_events_delivered", "Events whose effect a consumer committed.", ["consumer", "type"]
)
DUPLICATES = Counter(
    "painreview_events_duplicates",
    "Deliveries a consumer's inbox dropped because the event was already applied.",
    ["consumer", "type"],
)
REDELIVERED = Counter(
    "painreview_events_redelivered", "Deliveries after the first one of an event.", ["consumer", "type"]
)
DEAD_LETTERED = Counter(
    "painreview_events_dead_lettered",
    "Events a consumer gave up on after its redelivery limit.",
    ["consumer", "type"],
)
OUTBOX_LAG = Gauge("painreview_events_outbox_lag", "Outbox events not yet published.", ["outbox"])
OUTBOX_OLDEST_AGE = Gauge(
    "painreview_events_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox event.", ["outbox"]
)
