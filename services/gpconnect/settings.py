"""Configuration of the gpconnect service, from ``GPCONNECT_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.web import ServiceSettings

__all__ = ["GpconnectSettings"]


class GpconnectSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GPCONNECT_", extra="ignore")

    service_name: str = "gpconnect"
