"""Finding 9, tokens: an access token valid for 31 years, or typed ``JWT`` (as a client assertion is),
was accepted. Replayed as the attack: both are 401, and the issuer will not make a long-lived one."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt

from painreview.embedded import EmbeddedSystem
from shared.auth import mint_local_token
from shared.auth.verify import MAX_ACCESS_TOKEN_LIFETIME_S
from tests.support.tokens import Tokens

Secured = tuple[EmbeddedSystem, TestClient, Tokens]
YEAR = 365 * 24 * 3600


def _status(client: TestClient, token: str) -> int:
    return client.get("/referral/fhir/Patient", headers={"authorization": f"Bearer {token}"}).status_code


def test_a_token_valid_for_31_years_is_refused(secured: Secured) -> None:
    _system, client, tokens = secured
    now = int(time.time())
    assert _status(client, tokens.valid()) == 200
    assert _status(client, tokens.sign(tokens.claims(exp=now + 31 * YEAR))) == 401
    backdated = tokens.claims(iat=now - 2 * MAX_ACCESS_TOKEN_LIFETIME_S, nbf=now - 60, exp=now + 60)
    assert _status(client, tokens.sign(backdated)) == 401  # it says it was made to live 2 hours


def test_a_token_typed_jwt_is_not_an_access_token(secured: Secured) -> None:
    _system, client, tokens = secured
    key = tokens.keys.signing_key()
    typed_jwt = jwt.encode(
        {"alg": "ES384", "kid": key.kid, "typ": "JWT"}, tokens.claims(), key, algorithms=["ES384"]
    )
    assert _status(client, typed_jwt) == 401
    assert _status(client, tokens.valid()) == 200  # the same claims, typed at+jwt


def test_the_issuer_will_not_make_a_token_that_lives_longer_than_an_hour(secured: Secured) -> None:
    system, _client, _tokens = secured
    with pytest.raises(ValueError, match="lives 1 to 3600 seconds"):
        mint_local_token(system.auth, practice="A81001", scope="system/*.rs", lifetime_s=31 * YEAR)
    assert mint_local_token(system.auth, practice="A81001", scope="system/*.rs", lifetime_s=3600)
