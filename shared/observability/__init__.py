"""Logs, request correlation and metrics shared by every service."""

from shared.observability.correlation import CorrelationMiddleware, correlation_id, request_id
from shared.observability.logging import configure_logging

__all__ = ["CorrelationMiddleware", "configure_logging", "correlation_id", "request_id"]
