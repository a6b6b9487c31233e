"""Configuration of the medreview service, from ``MEDREVIEW_*`` environment variables."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.web import ServiceSettings

__all__ = ["MedreviewSettings"]


class MedreviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MEDREVIEW_", extra="ignore")

    service_name: str = "medreview"
    withdrawal_pause_score: Decimal = Field(
        default=Decimal(11),
        ge=1,
        le=64,
        description=(
            "A Subjective Opiate Withdrawal Scale total (0-64) at or above this pauses a running taper. "
            "Default 11, the start of the band commonly read as moderate withdrawal (11-20): a service "
            "choice to review locally, not a figure from the scale's authors."
        ),
    )
    approval_lead_days: int = Field(
        default=7,
        ge=0,
        le=28,
        description=(
            "Days before a taper step's date its approval Task goes to the practice (the GP system gets it "
            "then, not before); the prescription change itself is written on the step's date. Default 7."
        ),
    )
