"""Where verification keys come from: a local key set (embedded issuer) or an issuer's JWKS URL.

A remote set is cached for ``ttl_s``; a token signed with a ``kid`` we have not seen triggers one
refetch, but never more often than every ``min_refetch_s``, so keys the issuer rotates in are honoured
within seconds while a stream of forged ``kid`` values cannot make us hammer the issuer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey, import_key

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024


class JwksSource(Protocol):
    async def key_for(self, kid: str) -> Key | None:
        """The public key with this ``kid``, or ``None`` when the issuer has no such key."""
        ...


def is_signing_key(key: Key) -> bool:
    """RSA of at least 2048 bits (for RS384) or EC on P-384 (for ES384); nothing else is used."""
    if isinstance(key, RSAKey):
        return key.public_key.key_size >= 2048
    return isinstance(key, ECKey) and key.curve_name == "P-384"


def algorithm_for(key: Key) -> str:
    return "RS384" if isinstance(key, RSAKey) else "ES384"


def _plausible(entry: dict[str, Any]) -> bool:
    # Screen before importing: importing a weak RSA or oct key makes joserfc warn, and warnings are
    # errors in tests; and there is no point parsing what we would refuse anyway.
    if entry.get("kty") == "EC":
        return entry.get("crv") == "P-384"
    if entry.get("kty") == "RSA" and isinstance(entry.get("n"), str):
        try:
            modulus = base64.urlsafe_b64decode(entry["n"] + "=" * (-len(entry["n"]) % 4))
        except (binascii.Error, ValueError):
            return False
        return int.from_bytes(modulus, "big").bit_length() >= 2048
    return False


def public_keys(jwks: Mapping[str, Any]) -> dict[str, Key]:
    """The usable public signing keys of a JWKS document, by ``kid``; anything else is skipped."""
    found: dict[str, Key] = {}
    entries = jwks.get("keys")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or "d" in entry:
            continue
        if not _plausible(entry):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid or kid in found:
            continue
        try:
            key = import_key(entry)
        except (JoseError, ValueError, TypeError):
            continue
        if is_signing_key(key):
            found[kid] = key
    return found


class LocalJwks:
    """Keys held in process; ``keys`` may be a callable so a rotated key file is picked up."""

    def __init__(self, keys: Iterable[Key] | Callable[[], Iterable[Key]]) -> None:
        self._keys = keys

    async def key_for(self, kid: str) -> Key | None:
        keys = self._keys() if callable(self._keys) else self._keys
        return next((key for key in keys if key.kid == kid and is_signing_key(key)), None)


class RemoteJwks:
    """A JWKS fetched over HTTPS with ``httpx``, cached, refetched on rotation."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        ttl_s: float = 300.0,
        min_refetch_s: float = 30.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._client = client
        self._ttl_s = ttl_s
        self._min_refetch_s = min_refetch_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._keys: dict[str, Key] = {}
        self._fetched_at: float | None = None  # last successful fetch: drives the TTL
        self._attempted_at: float | None = None  # last attempt, failed or not: drives the rate cap
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> Key | None:
        # A request that needs a fetch waits on the lock for the one in flight (the first fetch after
        # a start, or a rotation refetch) and reads the keys it brought: never an empty cache.
        if self._should_fetch(kid):
            async with self._lock:
                if self._should_fetch(kid):  # another request may have refreshed while we waited
                    await self._refresh()
        return self._keys.get(kid)

    def _should_fetch(self, kid: str) -> bool:
        now = self._clock()
        if self._attempted_at is not None and now - self._attempted_at < self._min_refetch_s:
            return False
        stale = self._fetched_at is None or now - self._fetched_at >= self._ttl_s
        return stale or kid not in self._keys

    async def _refresh(self) -> None:
        # The attempt is stamped when it ends, not when it starts: stamped early, requests arriving
        # during the fetch would see "just attempted", skip the lock and be judged on the empty cache.
        try:
            keys = await self._fetch()
        except (httpx.HTTPError, ValueError) as exc:
            self._attempted_at = self._clock()
            # Keep the keys we had: an issuer outage should not lock every caller out at once.
            log.warning(
                "JWKS fetch failed; keeping %d cached keys",
                len(self._keys),
                extra={"error": type(exc).__name__},
            )
            return
        self._keys = keys  # one assignment: a reader sees the old set or the new one, never a part
        self._fetched_at = self._attempted_at = self._clock()

    async def _fetch(self) -> dict[str, Key]:
        client = self._client or httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False)
        try:
            response = await client.get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError("JWKS document too large")
            document = response.json()
        finally:
            if self._client is None:
                await client.aclose()
        if not isinstance(document, dict):
            raise ValueError("JWKS document is not an object")
        return public_keys(document)
