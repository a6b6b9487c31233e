"""The bearer-token matrix, over HTTP through a stand-in for the FHIR kernel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey, RSAKey

from shared.auth import Authenticator, LocalJwks, Scope, TokenVerifier
from shared.core.errors import Unauthorized

Forger = Callable[[Any, ECKey, RSAKey, ECKey], str]


@pytest.fixture
def api(verifier: TokenVerifier, forge: Any) -> TestClient:
    return TestClient(forge.fhir_app(Authenticator(verifier)))


def _get(api: TestClient, token: str | None, header: str | None = None) -> Any:
    headers = {}
    if header is not None:
        headers["Authorization"] = header
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.get("/fhir/Patient", headers=headers)


def test_a_request_without_a_token_is_401_with_a_bearer_challenge(api: TestClient) -> None:
    response = _get(api, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["code"] == "login"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b c", "Token abc.def.ghi"])
def test_an_authorization_header_that_is_not_a_bearer_token_is_401(api: TestClient, header: str) -> None:
    assert _get(api, None, header=header).status_code == 401


def test_a_valid_es384_token_gives_a_principal_with_practice_and_scopes(
    api: TestClient, forge: Any, ec_key: ECKey
) -> None:
    response = _get(api, forge.sign(ec_key, forge.access_claims()))
    assert response.status_code == 200, response.text
    assert response.json() == {"client_id": "gp-a", "practice": "A81001"}


@pytest.mark.anyio
async def test_the_verifier_maps_claims_onto_the_principal(
    verifier: TokenVerifier, forge: Any, rsa_key: RSAKey
) -> None:
    claims = forge.access_claims(role="project-worker", practices=["B82002", "C83003"], jti="t-1")
    principal = await verifier.verify(forge.sign(rsa_key, claims))
    assert principal.role == "project-worker"
    assert principal.tenants == {"A81001", "B82002", "C83003"}
    assert Scope("Patient", frozenset("rs")) in principal.scopes
    assert Scope("Condition", frozenset("rs")) in principal.scopes  # v1 "read" = read + search
    assert principal.token_id == "t-1"


BAD_TOKENS: dict[str, Forger] = {
    "bad signature": lambda f, ec, rsa, other: f.sign(other, f.access_claims(), kid=ec.kid),
    "tampered payload": lambda f, ec, rsa, other: (
        lambda good, evil: f"{good.split('.')[0]}.{evil.split('.')[1]}.{good.split('.')[2]}"
    )(f.sign(ec, f.access_claims()), f.sign(ec, f.access_claims(practice="Z99999"))),
    "expired": lambda f, ec, rsa, other: f.sign(ec, f.access_claims(exp=f.NOW - 31)),
    "not yet valid": lambda f, ec, rsa, other: f.sign(ec, f.access_claims(nbf=f.NOW + 120)),
    "issued in the future": lambda f, ec, rsa, other: f.sign(ec, f.access_claims(iat=f.NOW + 120)),
    "no exp": lambda f, ec, rsa, other: f.sign(ec, {**f.access_claims(), "exp": None}),
    "alg none": lambda f, ec, rsa, other: f.unsigned({"alg": "none", "kid": ec.kid}, f.access_claims()),
    "alg none, no kid": lambda f, ec, rsa, other: f.unsigned({"alg": "none"}, f.access_claims()),
    "HS256 keyed with the public RSA key": lambda f, ec, rsa, other: f.hs256_with_public_key(
        rsa, f.access_claims()
    ),
    "HS256 keyed with the public EC key": lambda f, ec, rsa, other: f.hs256_with_public_key(
        ec, f.access_claims()
    ),
    "RS256": lambda f, ec, rsa, other: f.sign(rsa, f.access_claims(), alg="RS256"),
    "ES384 header on an RSA key": lambda f, ec, rsa, other: f.unsigned(
        {"alg": "ES384", "kid": rsa.kid}, f.access_claims(), b"x" * 96
    ),
    "wrong audience": lambda f, ec, rsa, other: f.sign(ec, f.access_claims(aud="https://elsewhere/fhir")),
    "no audience": lambda f, ec, rsa, other: f.sign(ec, {**f.access_claims(), "aud": None}),
    "wrong issuer": lambda f, ec, rsa, other: f.sign(ec, f.access_claims(iss="https://evil.test/auth")),
    "unknown kid": lambda f, ec, rsa, other: f.sign(other, f.access_claims()),
    "critical header extension": lambda f, ec, rsa, other: f.unsigned(
        {"alg": "ES384", "kid": ec.kid, "crit": ["b64"], "b64": False}, f.access_claims(), b"x" * 96
    ),
    "no practice": lambda f, ec, rsa, other: f.sign(ec, f.access_claims(practice=None)),
    "practice not an ODS code": lambda f, ec, rsa, other: f.sign(ec, f.access_claims(practice="' OR 1=1")),
    "the internal service role": lambda f, ec, rsa, other: f.sign(ec, f.access_claims(role="service")),
    "assigned practices on a GP system": lambda f, ec, rsa, other: f.sign(
        ec, f.access_claims(practices=["B82002"])
    ),
    "not a JWT": lambda f, ec, rsa, other: "not-a-jwt",
    "five-part JWE": lambda f, ec, rsa, other: "a.b.c.d.e",
}


# Each case must be refused for its own reason, not by accident of another check.
REASONS = {
    "bad signature": "signature",
    "tampered payload": "signature",
    "expired": "expired",
    "not yet valid": "nbf",
    "issued in the future": "iat",
    "no exp": "exp",
    "alg none": "algorithm",
    "alg none, no kid": "algorithm",
    "HS256 keyed with the public RSA key": "algorithm",
    "HS256 keyed with the public EC key": "algorithm",
    "RS256": "algorithm",
    "ES384 header on an RSA key": "signature",
    "wrong audience": "aud",
    "no audience": "aud",
    "wrong issuer": "iss",
    "unknown kid": "key this server does not know",
    "critical header extension": "critical",
    "no practice": "practice",
    "practice not an ODS code": "practice",
    "the internal service role": "role",
    "assigned practices on a GP system": "staff",
    "not a JWT": "malformed",
    "five-part JWE": "malformed",
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_bad_token_is_401_and_the_body_never_echoes_it(
    api: TestClient, forge: Any, ec_key: ECKey, rsa_key: RSAKey, other_ec_key: ECKey, case: str
) -> None:
    token = BAD_TOKENS[case](forge, ec_key, rsa_key, other_ec_key)
    response = _get(api, token)
    assert response.status_code == 401, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert REASONS[case] in response.json()["issue"][0]["diagnostics"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    for part in token.split("."):
        if len(part) > 8:
            assert part not in response.text


@pytest.mark.anyio
async def test_a_token_just_inside_the_clock_skew_leeway_is_accepted(
    verifier: TokenVerifier, forge: Any, ec_key: ECKey
) -> None:
    token = forge.sign(ec_key, forge.access_claims(exp=forge.NOW - 10, nbf=forge.NOW + 10))
    assert (await verifier.verify(token)).practice == "A81001"


@pytest.mark.anyio
async def test_a_verifier_for_several_audiences_accepts_any_of_them(
    ec_key: ECKey, forge: Any, clock: Any
) -> None:
    verifier = TokenVerifier(
        LocalJwks([ec_key]), forge.ISSUER, ["https://a/fhir", "https://b/fhir"], clock=clock
    )
    assert await verifier.verify(forge.sign(ec_key, forge.access_claims(aud=["https://b/fhir", "x"])))
    with pytest.raises(Unauthorized):
        await verifier.verify(forge.sign(ec_key, forge.access_claims(aud="https://c/fhir")))


def test_a_token_without_the_needed_scope_is_403_naming_the_scope(
    api: TestClient, forge: Any, ec_key: ECKey
) -> None:
    token = forge.sign(ec_key, forge.access_claims(scope="system/Patient.rs"))
    response = api.post("/fhir/Patient", headers={"Authorization": f"Bearer {token}"}, json={})
    assert response.status_code == 403
    assert "system/Patient.c" in response.json()["issue"][0]["diagnostics"]


def test_a_token_with_a_wildcard_v1_write_scope_may_create(
    api: TestClient, forge: Any, ec_key: ECKey
) -> None:
    token = forge.sign(ec_key, forge.access_claims(scope="system/*.write"))
    response = api.post("/fhir/Patient", headers={"Authorization": f"Bearer {token}"}, json={})
    assert response.status_code == 200, response.text
