"""Access-token verification: signature against the issuer's JWKS, then the registered claims.

Only RS384 and ES384 are accepted, and the algorithm must match the key's type, so ``none``, HS256
signed with a public key, and RS256 are refused before any cryptography runs. Error messages name
what was wrong, never the token or its claim values.

A token whose signature verified is remembered (by the SHA-256 of its exact text, a bounded number
of them, until it expires) with the key that verified it, so a client sending the same token again
skips the signature check; every request still checks the claims (``exp``, ``nbf``, ``iss``,
``aud``) against the clock, and a token whose key the issuer no longer publishes is verified afresh
(and refused).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, Key, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from shared.auth.claims import ALGORITHMS, InvalidClaims, principal_from_claims
from shared.auth.jwks import JwksSource, is_signing_key
from shared.core.errors import Unauthorized
from shared.core.principal import Principal

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 16 * 1024
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_KEY_TYPE = {"RS384": RSAKey, "ES384": ECKey}
CACHED_TOKENS = 1024


@dataclass(frozen=True)
class _Verified:
    """A token whose signature ``key`` verified: its claims and the caller they name."""

    kid: str
    key: Key
    claims: dict[str, Any]
    principal: Principal
    expires: float


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url JSON") from exc
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, decoded but not trusted; ``ValueError`` if malformed."""
    if len(token) > MAX_TOKEN_CHARS or not _COMPACT_JWS.match(token):
        raise ValueError("not a compact JWS")
    return _json_segment(token.split(".", 1)[0])


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWS, not trusted: only to find whose key verifies it."""
    unverified_header(token)
    return _json_segment(token.split(".")[1])


def check_header(header: dict[str, Any]) -> tuple[str, str]:
    """The ``(alg, kid)`` of a header we are willing to verify; ``ValueError`` (safe text) otherwise."""
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise ValueError("signing algorithm is not accepted (RS384 or ES384 only)")
    if "crit" in header:
        raise ValueError("critical header extensions are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("header has no key id (kid)")
    return alg, kid


def key_fits(key: Key, alg: str) -> bool:
    return isinstance(key, _KEY_TYPE[alg]) and is_signing_key(key)


def verify_signed(token: str, key: Key, alg: str) -> dict[str, Any]:
    """The claims of a token whose signature ``key`` verifies with ``alg``; ``BadSignatureError`` else."""
    if not key_fits(key, alg):
        raise BadSignatureError()
    claims = jwt.decode(token, key, algorithms=[alg]).claims
    return dict(claims)


MAX_ACCESS_TOKEN_LIFETIME_S = 3600
"""The longest an access token may live, at the issuer and here: a token that expires later than this
from now (or from its ``iat``) is refused whoever signed it, so a leaked one cannot serve for years."""
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
"""RFC 9068's ``typ`` for access tokens: a JWT typed otherwise (e.g. ``JWT``, a client assertion's) is
not one. Tokens without ``typ`` are accepted, since some issuers do not set it."""


class TokenVerifier:
    """Checks bearer tokens from one issuer for one audience (or any of several)."""

    def __init__(
        self,
        jwks: JwksSource,
        issuer: str,
        audience: str | Sequence[str],
        leeway_s: int = 30,
        *,
        clock: Callable[[], float] = time.time,
        max_lifetime_s: int = MAX_ACCESS_TOKEN_LIFETIME_S,
        require_at_jwt: bool = True,
    ) -> None:
        self.max_lifetime_s, self.require_at_jwt = max_lifetime_s, require_at_jwt
        self.jwks = jwks
        self.issuer = issuer
        self.audiences = [audience] if isinstance(audience, str) else list(audience)
        self.leeway_s = leeway_s
        self._clock = clock
        self._verified: dict[bytes, _Verified] = {}  # by SHA-256 of the token, oldest first

    async def verify(self, token: str) -> Principal:
        """The caller a bearer token identifies; raises ``Unauthorized`` with a safe message."""
        digest = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(digest)
        if known is not None and await self.jwks.key_for(known.kid) is known.key:
            self._check_claims(known.claims)  # expiry and the rest, at every use
            return known.principal
        principal, verified = await self._verify(token)
        self._remember(digest, verified)
        return principal

    def _remember(self, digest: bytes, verified: _Verified) -> None:
        if len(self._verified) >= CACHED_TOKENS:
            now = self._clock()
            for stale in [d for d, v in self._verified.items() if v.expires < now]:
                del self._verified[stale]
            while len(self._verified) >= CACHED_TOKENS:
                del self._verified[next(iter(self._verified))]
        self._verified[digest] = verified

    async def _verify(self, token: str) -> tuple[Principal, _Verified]:
        try:
            header = unverified_header(token)
            alg, kid = check_header(header)
            typ = str(header.get("typ", "at+jwt")).lower()
            if self.require_at_jwt and typ not in ACCESS_TOKEN_TYPES:
                raise ValueError("its typ is not at+jwt: it is not an access token")
        except ValueError as exc:
            raise self._refuse(f"The access token is malformed or unacceptable: {exc}") from None
        key = await self.jwks.key_for(kid)
        if key is None:
            raise self._refuse("The access token was signed with a key this server does not know")
        try:
            claims = verify_signed(token, key, alg)
        except (BadSignatureError, JoseError):
            raise self._refuse("The access token signature is not valid") from None
        self._check_claims(claims)
        try:
            principal = principal_from_claims(claims)
        except InvalidClaims as exc:
            raise self._refuse(f"The access token is not usable here: {exc}") from None
        expires = float(claims["exp"]) + self.leeway_s  # exp is essential: _check_claims saw it
        return principal, _Verified(kid, key, claims, principal, expires)

    def _check_claims(self, claims: dict[str, Any]) -> None:
        registry = JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=self.leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "values": list(self.audiences)},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise self._refuse("The access token has expired") from None
        except ClaimError as exc:
            raise self._refuse(f"The access token is not valid for this server ({exc.claim} claim)") from None
        exp, iat, latest = (
            claims["exp"],
            claims.get("iat"),
            self._clock() + self.max_lifetime_s + self.leeway_s,
        )
        too_long = exp > latest or (
            isinstance(iat, int | float) and exp - iat > self.max_lifetime_s + self.leeway_s
        )
        if too_long:
            longest = self.max_lifetime_s
            raise self._refuse(f"The access token is not valid for this server (it lives over {longest} s)")

    @staticmethod
    def _refuse(message: str) -> Unauthorized:
        log.info("access token refused: %s", message)
        return Unauthorized(message)
