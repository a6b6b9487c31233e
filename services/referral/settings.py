"""Configuration of the referral service, from ``REFERRAL_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.web import ServiceSettings

__all__ = ["ReferralSettings"]


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    service_name: str = "referral"
    bars_endpoint: str = Field(
        default="https://fhir.nhs.uk/Id/dos-service-id|2000099999",
        description="Our BaRS endpoint: a message whose MessageHeader.destination names another is refused",
    )
    bars_versions: list[str] = Field(
        default=["1"],
        description="BaRS versions accepted in the media type's version parameter (a major version "
        "accepts every minor one: '1' accepts 1.2.0)",
    )
    screen_default_count: int = Field(default=100, ge=1, description="$screen: patients returned by default")
    screen_max_count: int = Field(default=1000, ge=1, description="$screen: most patients one call returns")
    screen_max_body_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="$screen: the largest body (413 past it, as it streams)",
    )
    enrolment_months: int = Field(default=24, ge=1, le=24, description="Longest enrolment (months)")
