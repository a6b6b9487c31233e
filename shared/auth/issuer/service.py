"""The embedded SMART Backend Services issuer: client assertion in, signed access token out.

https://build.fhir.org/ig/HL7/smart-app-launch/backend-services.html — the client signs a short-lived
JWT (``iss`` = ``sub`` = its client id, ``aud`` = our token URL, ``exp`` at most five minutes ahead,
a never-reused ``jti``) with the private half of a key it registered with us.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from joserfc import jwt
from joserfc.errors import JoseError

from shared.auth import claims as c
from shared.auth.claims import narrow_scopes
from shared.auth.issuer.keys import IssuerKeys
from shared.auth.issuer.registry import ClientRegistry, RegisteredClient
from shared.auth.jwks import algorithm_for
from shared.auth.verify import (
    MAX_ACCESS_TOKEN_LIFETIME_S,
    check_header,
    unverified_claims,
    unverified_header,
    verify_signed,
)

log = logging.getLogger(__name__)

CLIENT_CREDENTIALS = "client_credentials"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME_S = 300


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error response; ``description`` never echoes what the client sent."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, 401)


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    expires_in: int
    scope: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret

    def body(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


class TokenIssuer:
    def __init__(
        self,
        registry: ClientRegistry,
        keys: IssuerKeys,
        *,
        issuer: str,
        audience: str | list[str],
        token_url: str,
        lifetime_s: int = 300,
        leeway_s: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.token_url = token_url
        self.lifetime_s = lifetime_s
        self.leeway_s = leeway_s
        self._clock = clock

    def exchange(self, form: Mapping[str, str]) -> TokenResponse:
        """Answer a token request (the decoded form); raises ``OAuthError``."""
        if form.get("grant_type") != CLIENT_CREDENTIALS:
            raise OAuthError("unsupported_grant_type", "grant_type must be client_credentials")
        if form.get("client_assertion_type") != JWT_BEARER:
            raise OAuthError("invalid_request", f"client_assertion_type must be {JWT_BEARER}")
        assertion = form.get("client_assertion", "")
        if not assertion:
            raise OAuthError("invalid_request", "client_assertion is required")
        if not form.get("scope", "").strip():
            raise OAuthError("invalid_request", "scope is required")
        client = self._authenticate(assertion)
        granted = narrow_scopes(form["scope"], client.scopes)
        if not granted:
            raise OAuthError("invalid_scope", "none of the requested scopes is allowed for this client")
        token = self.mint(client, granted)
        log.info("access token issued", extra={"client_id": client.client_id, "scope": granted})
        return TokenResponse(access_token=token, expires_in=self.lifetime_s, scope=granted)

    def mint(
        self,
        client: RegisteredClient,
        scope: str,
        *,
        practices: Iterable[str] | None = None,
        lifetime_s: int | None = None,
    ) -> str:
        """Sign an access token for ``client`` carrying exactly ``scope`` (already narrowed), living at
        most ``MAX_ACCESS_TOKEN_LIFETIME_S`` (``ValueError`` for longer)."""
        lifetime = lifetime_s or self.lifetime_s
        if not 0 < lifetime <= MAX_ACCESS_TOKEN_LIFETIME_S:
            raise ValueError(f"an access token lives 1 to {MAX_ACCESS_TOKEN_LIFETIME_S} seconds")
        now = int(self._clock())
        assigned = sorted(client.practices if practices is None else practices)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": client.client_id,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
            c.CLIENT_ID: client.client_id,
            c.SCOPE: scope,
            c.PRACTICE: client.practice,
            c.ROLE: client.role,
        }
        if assigned:
            claims[c.PRACTICES] = assigned
        key = self.keys.signing_key()
        alg = algorithm_for(key)
        header = {"alg": alg, "kid": key.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, key, algorithms=[alg])

    def _authenticate(self, assertion: str) -> RegisteredClient:
        try:
            header = unverified_header(assertion)
            alg, kid = check_header(header)
            client_id = unverified_claims(assertion).get("iss")
        except ValueError as exc:
            raise invalid_client(f"client_assertion is malformed or unacceptable: {exc}") from None
        if any(name in header for name in ("jku", "x5u", "jwk", "x5c")):
            # We verify with registered keys only; a header naming other keys is a confused client.
            raise invalid_client("client_assertion must not point at other keys (jku, x5u, jwk, x5c)")
        client = self.registry.get(client_id) if isinstance(client_id, str) and client_id else None
        if client is None or client.disabled:
            raise invalid_client("client is not registered or is disabled")
        key = client.keys().get(kid)
        if key is None:
            raise invalid_client("client_assertion kid is not among the client's registered keys")
        try:
            claims = verify_signed(assertion, key, alg)
        except JoseError:
            raise invalid_client("client_assertion signature is not valid") from None
        self._check_assertion_claims(client, claims)
        return client

    def _check_assertion_claims(self, client: RegisteredClient, claims: dict[str, Any]) -> None:
        now = int(self._clock())
        if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
            raise invalid_client("client_assertion iss and sub must both be the client id")
        aud = claims.get("aud")
        if aud != self.token_url and not (isinstance(aud, list) and self.token_url in aud):
            raise invalid_client("client_assertion aud must be this token endpoint's URL")
        exp, jti = claims.get("exp"), claims.get("jti")
        if not _numeric_date(exp):
            raise invalid_client("client_assertion needs a numeric exp")
        if exp <= now - self.leeway_s:
            raise invalid_client("client_assertion has expired")
        if exp > now + MAX_ASSERTION_LIFETIME_S + self.leeway_s:
            raise invalid_client("client_assertion exp must be no more than five minutes ahead")
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is not None and (not _numeric_date(value) or value > now + self.leeway_s):
                raise invalid_client(f"client_assertion {name} is in the future or not a number")
        if not isinstance(jti, str) or not jti or len(jti) > 200:
            raise invalid_client("client_assertion needs a jti of at most 200 characters")
        if not self.registry.use_assertion(client.client_id, jti, math.ceil(exp) + self.leeway_s, now):
            raise invalid_client("client_assertion jti has been used before")


def _numeric_date(value: object) -> TypeGuard[int | float]:
    # bool is an int, and NaN compares false with everything, so neither may pass as a time.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
