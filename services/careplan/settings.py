"""Configuration of the careplan service, from ``CAREPLAN_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.web import ServiceSettings

__all__ = ["CareplanSettings"]


class CareplanSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CAREPLAN_", extra="ignore")

    service_name: str = "careplan"
