"""Configuration of the referral service, from ``REFERRAL_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.web import ServiceSettings

__all__ = ["ReferralSettings"]


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    service_name: str = "referral"
