"""Settings every service shares; each service subclasses with its own environment prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.bus.jetstream import NatsSettings
from shared.db import sqlite_path_for
from shared.web.clock import Clock, clock_for, refuse_in_production

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """Configuration only by environment, validated at start (prefix per service, e.g. ``REFERRAL_``)."""

    model_config = SettingsConfigDict(env_prefix="SERVICE_", extra="ignore")

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    database_url: str | None = Field(default=None, description="PostgreSQL URL; unset = SQLite under var_dir")
    var_dir: Path = Path("var")
    nats_url: str | None = Field(default=None, description="NATS URL; unset = in-process events (embedded)")
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    default_page_size: int = Field(default=20, ge=1, le=100)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    run_migrations: bool = True
    clock_file: Path | None = Field(
        default=None,
        description=(
            "Development and tests only: a file holding an ISO instant the service's clock runs from "
            "(shared.web.clock), so a test can move time on; refused in production"
        ),
    )

    @model_validator(mode="after")
    def _production_needs_real_engines(self) -> ServiceSettings:
        refuse_in_production(self.clock_file, self.environment)
        if self.environment == "production":
            if not self.database_url or self.database_url.startswith("sqlite"):
                raise ValueError("production needs a PostgreSQL database_url")
            _refuse_anything_but_a_broker(self.nats_url)
        return self

    def clock(self) -> Clock:
        """The time the service acts on (``shared.web.clock``): the system clock unless ``clock_file``."""
        return clock_for(self.clock_file, self.environment)

    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_path_for(self.var_dir, self.service_name)


def _refuse_anything_but_a_broker(url: str | None) -> None:
    """Production events go to NATS JetStream and nowhere else.

    ``inprocess://``, ``memory://``, a blank or a space would otherwise start the in-process bus:
    the outbox would mark events published that no other process ever receives.
    """
    refusal = (
        f"production needs nats_url to name a NATS JetStream server (nats://host:port or tls://host:port), "
        f"not {url.strip()!r}"
        if url and url.strip()
        else "production needs a nats_url (NATS JetStream): nats://host:port"
    )
    if not url or not url.strip():
        raise ValueError(refusal)
    try:
        servers = NatsSettings.from_url(url.strip()).servers
    except ValueError as exc:
        raise ValueError(refusal) from exc
    if any(not urlsplit(server).hostname for server in servers):
        raise ValueError(refusal)
