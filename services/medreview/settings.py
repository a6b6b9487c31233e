"""Configuration of the medreview service, from ``MEDREVIEW_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.web import ServiceSettings

__all__ = ["MedreviewSettings"]


class MedreviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDREVIEW_", extra="ignore")

    service_name: str = "medreview"
