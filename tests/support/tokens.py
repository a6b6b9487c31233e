"""Hand-made tokens for the embedded system (valid ones and every kind of forgery), and ``secured``:
the embedded system in-process with its token maker (a fixture the security conftests offer)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from painreview.embedded import EmbeddedSystem, create_embedded_system
from shared.auth.issuer import IssuerKeys

__all__ = ["Tokens", "secured"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Tokens:
    system: EmbeddedSystem
    keys: IssuerKeys

    def claims(
        self,
        practice: str = "A81001",
        scope: str = "system/*.cruds",
        role: str = "gp-system",
        **overrides: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.system.auth.issuer,
            "sub": f"test-{practice}",
            "client_id": f"test-{practice}",
            "aud": self.system.auth.audiences[0],
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            "scope": scope,
            "practice": practice,
            "role": role,
        }
        claims.update(overrides)
        return claims

    def sign(self, claims: dict[str, Any], key: Any = None) -> str:
        key = key or self.keys.signing_key()
        return jwt.encode(
            {"alg": "ES384", "kid": key.kid, "typ": "at+jwt"}, claims, key, algorithms=["ES384"]
        )

    def valid(self, practice: str = "A81001", scope: str = "system/*.cruds", role: str = "gp-system") -> str:
        return self.sign(self.claims(practice, scope, role))

    def forgeries(self) -> dict[str, str]:
        """Tokens that must all be refused with 401."""
        good = self.claims()
        stranger = ECKey.generate_key("P-384", parameters={"kid": self.keys.signing_key().kid})
        unsigned = (
            f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(good).encode())}."
        )
        # The classic confusion attack, built by hand: JOSE libraries refuse to make it.
        public_pem = self.keys.signing_key().as_pem(private=False)
        head = _b64(json.dumps({"alg": "HS256", "kid": self.keys.signing_key().kid}).encode())
        body = _b64(json.dumps(good).encode())
        mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
        hs256 = f"{head}.{body}.{_b64(mac)}"
        return {
            "bad signature": self.sign(good, stranger),
            "expired": self.sign(
                {
                    **good,
                    "exp": int(time.time()) - 3600,
                    "iat": int(time.time()) - 7200,
                    "nbf": int(time.time()) - 7200,
                }
            ),
            "not yet valid": self.sign({**good, "nbf": int(time.time()) + 3600}),
            "alg none": unsigned,
            "HS256 with the public key as secret": hs256,
            "wrong audience": self.sign({**good, "aud": "https://somewhere-else.example/fhir"}),
            "wrong issuer": self.sign({**good, "iss": "https://evil.example"}),
            "garbage": "not.a.token",
        }


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedSystem, TestClient, Tokens]]:
    var_dir: Path = tmp_path_factory.mktemp("var")
    # The access matrix refuses hundreds of requests from one address: no limit on that here (the
    # refusal limit's own test is in test_refusal_audit.py).
    system = create_embedded_system(
        var_dir,
        rate_per_minute=1_000_000,
        rate_burst=100_000,
        refused_per_minute=1_000_000,
        refused_burst=100_000,
    )
    tokens = Tokens(system, IssuerKeys(system.auth.issuer_key_path, algorithm=system.auth.signing_algorithm))
    with TestClient(system.app) as client:
        yield system, client, tokens
    for parts in system.services.values():
        parts.engine.dispose()
