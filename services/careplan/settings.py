"""Configuration of the careplan service, from ``CAREPLAN_*`` environment variables."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.web import ServiceSettings

__all__ = ["CareplanSettings"]


class CareplanSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CAREPLAN_", extra="ignore")

    service_name: str = "careplan"
    community_budget_gbp: Decimal = Field(
        default=Decimal("250.00"),
        ge=0,
        description="Each patient's budget for community services when their plan sets none (GBP). The "
        "service evaluation gave each patient a budget but does not state it.",
    )
    pain_consultant: str | None = Field(
        default=None, description="Name of the pain consultant assigned (joins each care team)"
    )
    addiction_psychiatrist: str | None = Field(
        default=None, description="Name of the addiction psychiatrist assigned (joins each care team)"
    )
    mdt_weekday: int = Field(default=2, ge=0, le=6, description="MDT reviews: day of the week (Monday 0)")
    mdt_time: time = Field(default=time(12, 30), description="MDT reviews: start time (UTC)")
    mdt_minutes: int = Field(default=60, ge=10, le=480, description="MDT reviews: length in minutes")
