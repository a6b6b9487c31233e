"""Settings every service shares; each service subclasses with its own environment prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.db import sqlite_path_for

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

    @model_validator(mode="after")
    def _production_needs_real_engines(self) -> ServiceSettings:
        if self.environment == "production":
            if not self.database_url or self.database_url.startswith("sqlite"):
                raise ValueError("production needs a PostgreSQL database_url")
            if not self.nats_url:
                raise ValueError("production needs a nats_url (NATS JetStream)")
        return self

    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_path_for(self.var_dir, self.service_name)
