"""Production refuses to start on anything but PostgreSQL and a real NATS JetStream broker.

An in-process bus in production would mark ``referral.received`` published while no other process
ever receives it, and ``/readyz`` would call the events fine: the start must fail instead.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.careplan.settings import CareplanSettings
from services.medreview.settings import MedreviewSettings
from services.referral.settings import ReferralSettings
from shared.web.settings import ServiceSettings

POSTGRES = "postgresql://postgres@127.0.0.1:5432/referral"

NOT_A_BROKER = [
    "",
    " ",
    "\t",
    "inprocess://",
    "inprocess:",
    "memory://",
    " memory:// ",
    "redis://127.0.0.1:6379",
    "http://127.0.0.1:4222",
    "127.0.0.1:4222",
    "nats://",
    "nats://127.0.0.1:4222,inprocess://",
    "?stream=PAINREVIEW",
]


@pytest.mark.parametrize("nats_url", NOT_A_BROKER)
@pytest.mark.parametrize(
    ("settings_class", "prefix"),
    [(ReferralSettings, "REFERRAL_"), (CareplanSettings, "CAREPLAN_"), (MedreviewSettings, "MEDREVIEW_")],
)
def test_production_refuses_an_event_url_that_is_not_a_nats_broker(
    settings_class: type[ServiceSettings], prefix: str, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"{prefix}ENVIRONMENT", "production")
    monkeypatch.setenv(f"{prefix}DATABASE_URL", POSTGRES)
    monkeypatch.setenv(f"{prefix}NATS_URL", nats_url)
    with pytest.raises(ValidationError, match=r"production needs (a )?nats_url"):
        settings_class()


def test_production_refuses_no_event_url_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERRAL_ENVIRONMENT", "production")
    monkeypatch.setenv("REFERRAL_DATABASE_URL", POSTGRES)
    monkeypatch.delenv("REFERRAL_NATS_URL", raising=False)
    with pytest.raises(ValidationError, match="production needs a nats_url"):
        ReferralSettings()


@pytest.mark.parametrize(
    "nats_url",
    [
        "nats://127.0.0.1:4222",
        "tls://nats.internal:4222",
        "nats://n1:4222,nats://n2:4222,nats://n3:4222?stream=PAINREVIEW&replicas=3",
        "nats://127.0.0.1:4222?stream=E2E&prefix=e2e",
    ],
)
def test_production_accepts_a_nats_broker(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERRAL_ENVIRONMENT", "production")
    monkeypatch.setenv("REFERRAL_DATABASE_URL", POSTGRES)
    monkeypatch.setenv("REFERRAL_NATS_URL", nats_url)
    assert ReferralSettings().nats_url == nats_url


@pytest.mark.parametrize("nats_url", ["inprocess://", "memory://", " "])
def test_development_still_runs_events_in_process(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFERRAL_ENVIRONMENT", "development")
    monkeypatch.setenv("REFERRAL_NATS_URL", nats_url)
    assert ReferralSettings().nats_url == nats_url
