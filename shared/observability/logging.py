"""JSON logs with the request and correlation ids on every line. Never log patient data:
log ids, types, counts and outcomes, not resource content."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from shared.observability.correlation import correlation_id, request_id

__all__ = ["configure_logging"]


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # A line may name its request itself (the access log, written after the request's context ended).
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = correlation_id.get()
        return True


def configure_logging(level: str = "INFO", service: str = "pain-review") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(correlation_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log has query strings; SQLAlchemy's INFO/DEBUG lines have statements and rows;
    # httpx's INFO lines have URLs. None of them is raised above WARNING by a DEBUG root.
    for noisy in ("uvicorn.access", "sqlalchemy", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
