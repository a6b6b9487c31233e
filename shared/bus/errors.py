"""Errors of the event bus.

BusError
 ├── PublishError     the transport did not confirm a publish (the outbox row stays unpublished)
 └── TransportClosed  the transport was closed or never started
"""

from __future__ import annotations

__all__ = ["BusError", "PublishError", "TransportClosed"]


class BusError(Exception):
    """Base of every event bus error."""


class PublishError(BusError):
    """The broker did not confirm the event; publishing it again is safe (it is deduplicated)."""


class TransportClosed(BusError):
    """The transport is closed."""
