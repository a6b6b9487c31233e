"""A small service app for the observability tests, built by the same ``service_app`` every service
uses (``tests/support/kernel.py``)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from tests.support.auth import as_practice
from tests.support.kernel import build_kernel, kernel_app

__all__ = ["PRACTICE", "SERVICE", "make_app"]

SERVICE = "obs-test"
PRACTICE = as_practice("A81001")


def make_app(engine: Engine, service: str = SERVICE) -> FastAPI:
    return kernel_app(build_kernel(engine, service, ("Patient", "AuditEvent", "Provenance")))
