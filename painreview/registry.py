"""The composition root's list of services: how to configure, migrate and build each one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.careplan import app as careplan_app
from services.careplan.settings import CareplanSettings
from services.gpconnect import app as gpconnect_app
from services.gpconnect.settings import GpconnectSettings
from services.medreview import app as medreview_app
from services.medreview.settings import MedreviewSettings
from services.referral import app as referral_app
from services.referral.settings import ReferralSettings
from shared.web import ServiceParts, ServiceSettings

__all__ = ["SERVICES", "ServiceEntry"]


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    settings: type[ServiceSettings]
    create: Callable[..., ServiceParts]
    migrations: Path

    def load_settings(self, **overrides: Any) -> ServiceSettings:
        return self.settings(**overrides)


SERVICES: dict[str, ServiceEntry] = {
    "referral": ServiceEntry(
        "referral", ReferralSettings, referral_app.create_service, referral_app.MIGRATIONS
    ),
    "careplan": ServiceEntry(
        "careplan", CareplanSettings, careplan_app.create_service, careplan_app.MIGRATIONS
    ),
    "medreview": ServiceEntry(
        "medreview", MedreviewSettings, medreview_app.create_service, medreview_app.MIGRATIONS
    ),
    "gpconnect": ServiceEntry(
        "gpconnect", GpconnectSettings, gpconnect_app.create_service, gpconnect_app.MIGRATIONS
    ),
}
