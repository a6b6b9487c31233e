"""Keys, a fake clock, an embedded issuer over in-memory SQLite, and a forge for good and bad JWTs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey

from shared.auth import Authenticator, AuthSettings, LocalJwks, Principal, TokenVerifier, require
from shared.auth.issuer import (
    ClientRegistry,
    IssuerKeys,
    RegisteredClient,
    TokenIssuer,
    create_issuer_tables,
    issuer_router,
    smart_configuration_router,
)
from shared.core.errors import FhirError
from shared.db import make_engine
from tests.support.clock import Clock

ISSUER = "https://auth.test/auth"
TOKEN_URL = f"{ISSUER}/token"
AUDIENCE = "https://fhir.test/fhir"
NOW = 1_750_000_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A JWT assembled by hand, for the tokens no honest library would make."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def hs256_with_public_key(key: Key, claims: dict[str, Any]) -> str:
    """The classic algorithm-confusion forgery: HMAC keyed with the verifier's own public key."""
    secret = key.as_pem(private=False)  # type: ignore[attr-defined]
    head = _b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def sign(key: Key, claims: dict[str, Any], alg: str | None = None, **header: Any) -> str:
    alg = alg or ("RS384" if isinstance(key, RSAKey) else "ES384")
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "at+jwt", **header}, claims, key, algorithms=[alg])


def access_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "gp-a",
        "aud": AUDIENCE,
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 300,
        "jti": str(uuid.uuid4()),
        "client_id": "gp-a",
        "scope": "system/Patient.rs system/Condition.read",
        "practice": "A81001",
        "role": "gp-system",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def assertion_claims(client_id: str = "gp-a", **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "exp": NOW + 240,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


@pytest.fixture(scope="session")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-384", private=True, auto_kid=True)


@pytest.fixture(scope="session")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, private=True, auto_kid=True)


@pytest.fixture(scope="session")
def other_ec_key() -> ECKey:
    return ECKey.generate_key("P-384", private=True, auto_kid=True)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(ec_key: ECKey, rsa_key: RSAKey, clock: Clock) -> TokenVerifier:
    return TokenVerifier(LocalJwks([ec_key, rsa_key]), ISSUER, AUDIENCE, leeway_s=30, clock=clock)


def fhir_app(authenticator: Authenticator) -> FastAPI:
    """A stand-in for the kernel: one protected route, FhirError rendered as OperationOutcome."""
    app = FastAPI()

    @app.exception_handler(FhirError)
    async def outcome(_request: Request, exc: FhirError) -> JSONResponse:
        return JSONResponse(exc.to_operation_outcome(), status_code=exc.status, headers=exc.headers)

    @app.get("/fhir/Patient")
    async def search_patients(request: Request) -> dict[str, Any]:
        principal: Principal = await authenticator.authenticate(request)
        require(principal, "Patient", "s")
        return {"client_id": principal.client_id, "practice": principal.practice}

    @app.post("/fhir/Patient")
    async def create_patient(request: Request) -> dict[str, Any]:
        principal: Principal = await authenticator.authenticate(request)
        require(principal, "Patient", "c")
        return {}

    return app


@pytest.fixture
def settings(tmp_path: Path) -> AuthSettings:
    return AuthSettings(
        environment="test", var_dir=tmp_path, issuer=ISSUER, audience=AUDIENCE, database_url="sqlite://"
    )


@pytest.fixture
def registry() -> Iterator[ClientRegistry]:
    engine = make_engine("sqlite://")
    create_issuer_tables(engine)
    yield ClientRegistry(engine)
    engine.dispose()


@pytest.fixture
def token_issuer(registry: ClientRegistry, tmp_path: Path, clock: Clock) -> TokenIssuer:
    keys = IssuerKeys(tmp_path / "issuer-key.json")
    return TokenIssuer(
        registry, keys, issuer=ISSUER, audience=AUDIENCE, token_url=TOKEN_URL, lifetime_s=300, clock=clock
    )


@pytest.fixture
def gp_client(registry: ClientRegistry, ec_key: ECKey) -> RegisteredClient:
    client = RegisteredClient(
        client_id="gp-a",
        practice="A81001",
        role="gp-system",
        scopes="system/Patient.cruds system/Condition.rs",
        jwks={"keys": [ec_key.as_dict(private=False)]},
    )
    registry.add(client)
    return client


@pytest.fixture
def issuer_client(token_issuer: TokenIssuer) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(issuer_router(token_issuer))
    app.include_router(
        smart_configuration_router(
            issuer=ISSUER,
            token_endpoint=TOKEN_URL,
            jwks_uri=f"{ISSUER}/jwks.json",
            scopes_supported=["system/*.rs"],
            prefix="/fhir",
        )
    )
    with TestClient(app) as client:
        yield client


class Forge:
    """The helpers above, handed to tests as the ``forge`` fixture (conftest modules are not imported)."""

    ISSUER = ISSUER
    TOKEN_URL = TOKEN_URL
    AUDIENCE = AUDIENCE
    NOW = NOW
    sign = staticmethod(sign)
    unsigned = staticmethod(unsigned)
    hs256_with_public_key = staticmethod(hs256_with_public_key)
    access_claims = staticmethod(access_claims)
    assertion_claims = staticmethod(assertion_claims)
    fhir_app = staticmethod(fhir_app)


@pytest.fixture
def forge() -> type[Forge]:
    return Forge
