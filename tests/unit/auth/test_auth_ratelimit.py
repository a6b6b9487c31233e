"""Per-client token buckets: bursts allowed, then 429 with Retry-After, clients independent; refused
authentications limited per address."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey

from shared.auth import Authenticator, AuthSettings, RateLimiter, RefusalLimiter, TokenVerifier
from shared.core.errors import RefusalsThrottled, TooManyRequests, Unauthorized


class Tick:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_client_may_burst_then_is_told_when_to_retry() -> None:
    tick = Tick()
    limiter = RateLimiter(rate_per_s=0.5, burst=3, clock=tick)
    for _ in range(3):
        limiter.check("gp-a")
    try:
        limiter.check("gp-a")
    except TooManyRequests as exc:
        assert exc.status == 429
        assert exc.headers == {"Retry-After": "2"}  # one token every two seconds
    else:
        raise AssertionError("the fourth request in a burst of three should be refused")
    tick.now += 2
    limiter.check("gp-a")


def test_one_busy_client_does_not_throttle_another() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, clock=Tick())
    limiter.check("gp-a")
    assert limiter.try_acquire("gp-a") > 0
    assert limiter.try_acquire("gp-b") == 0.0


def test_the_limiter_forgets_the_least_recently_seen_clients_beyond_its_cap() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, max_clients=2, clock=Tick())
    for client in ("a", "b", "c"):
        limiter.check(client)
    assert limiter.try_acquire("a") == 0.0  # "a" was forgotten, so it starts with a full bucket
    assert limiter.try_acquire("c") > 0


def test_the_authenticator_answers_429_with_retry_after_after_authentication(
    verifier: TokenVerifier, forge: Any, ec_key: ECKey
) -> None:
    limiter = RateLimiter(rate_per_s=0.1, burst=2, clock=Tick())
    api = TestClient(forge.fhir_app(Authenticator(verifier, limiter)))
    headers = {"Authorization": f"Bearer {forge.sign(ec_key, forge.access_claims())}"}
    assert [api.get("/fhir/Patient", headers=headers).status_code for _ in range(2)] == [200, 200]
    throttled = api.get("/fhir/Patient", headers=headers)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "10"
    assert throttled.json()["issue"][0]["code"] == "throttled"
    # Unauthenticated requests are refused before they can spend anyone's budget.
    assert api.get("/fhir/Patient").status_code == 401


def test_an_authenticator_built_from_settings_rate_limits_unless_told_not_to(tmp_path: Path) -> None:
    settings = AuthSettings(var_dir=tmp_path, rate_per_minute=60, rate_burst=5)
    limiter = Authenticator.from_settings(settings).rate_limiter
    assert limiter is not None and limiter.burst == 5 and limiter.rate_per_s == 1.0
    assert Authenticator.from_settings(settings, rate_limit=False).rate_limiter is None


def test_refusals_from_an_address_are_audited_within_budget_then_counted_into_the_next_audited_one() -> None:
    tick = Tick()
    limiter = RefusalLimiter(rate_per_s=0.5, burst=2, clock=tick)
    audited = [Unauthorized("no access token") for _ in range(2)]
    for refusal in audited:
        limiter.refused("10.0.0.7", refusal)
    assert [r.unaudited_before for r in audited] == [0, 0]
    for _ in range(3):
        with pytest.raises(RefusalsThrottled) as throttled:
            limiter.refused("10.0.0.7", Unauthorized("no access token"))
        assert throttled.value.status == 429 and throttled.value.headers == {"Retry-After": "2"}
    elsewhere = Unauthorized("no access token")
    limiter.refused("10.0.0.8", elsewhere)  # another address has its own budget
    assert elsewhere.unaudited_before == 0
    tick.now += 2
    next_audited = Unauthorized("expired")
    limiter.refused("10.0.0.7", next_audited)
    assert next_audited.unaudited_before == 3
    with pytest.raises(RefusalsThrottled):
        limiter.refused("10.0.0.7", Unauthorized("expired"))
    tick.now += 2
    again = Unauthorized("expired")
    limiter.refused("10.0.0.7", again)
    assert again.unaudited_before == 1  # counted afresh since the last audited one


def test_an_authenticator_built_from_settings_limits_refusals_per_address(tmp_path: Path) -> None:
    settings = AuthSettings(var_dir=tmp_path, refused_per_minute=30, refused_burst=4)
    refusals = Authenticator.from_settings(settings, rate_limit=False).refusals
    assert refusals is not None
    for _ in range(4):
        refusals.refused("10.0.0.7", Unauthorized("garbage"))
    with pytest.raises(RefusalsThrottled) as throttled:
        refusals.refused("10.0.0.7", Unauthorized("garbage"))
    assert throttled.value.headers == {"Retry-After": "2"}  # 30 a minute: one every two seconds
