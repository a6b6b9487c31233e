"""Configuration of the medreview service, from ``MEDREVIEW_*`` environment variables."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

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
    concern_pause_severity: int = Field(
        default=7,
        ge=0,
        le=10,
        description=(
            "A withdrawal or mood concern the patient rates at or above this (0-10) during a taper pauses "
            "the plan (services/medreview/domain/concerns.py). Default 7: a service choice to review locally."
        ),
    )
    concern_answer_hours_asap: int = Field(
        default=4,
        ge=1,
        le=168,
        description="Hours the practice has to answer an asap concern (withdrawal, mood) before it escalates",
    )
    concern_answer_hours_urgent: int = Field(
        default=24,
        ge=1,
        le=336,
        description="Hours the practice has to answer an urgent concern (a pain flare) before it escalates.",
    )
    follow_up_months: tuple[Annotated[int, Field(ge=1, le=60)], ...] = Field(
        default=(3, 12),
        min_length=1,
        description=(
            "Months after discharge at which a follow-up review is due (JSON list, e.g. [3, 12]): the GP "
            "record is read again, OME recomputed and compared with the OME at discharge."
        ),
    )
    due_check_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How often the service looks for concerns past their answer time (escalation).",
    )
