"""An external issuer's JWKS: cached, refetched once for a rotated key, never hammered."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import respx
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, RSAKey

from shared.auth import RemoteJwks, TokenVerifier
from shared.auth.jwks import public_keys
from shared.core.errors import Unauthorized

JWKS_URL = "https://auth.test/auth/jwks.json"


def _jwks(*keys: Any) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


@pytest.fixture
def mono() -> Any:
    class Mono:
        now = 1000.0

        def __call__(self) -> float:
            return self.now

    return Mono()


@pytest.mark.anyio
async def test_a_rotated_key_is_fetched_once_and_then_served_from_cache(
    ec_key: ECKey, other_ec_key: ECKey, forge: Any, clock: Any, mono: Any
) -> None:
    jwks = RemoteJwks(JWKS_URL, ttl_s=300, min_refetch_s=30, clock=mono)
    verifier = TokenVerifier(jwks, forge.ISSUER, forge.AUDIENCE, clock=clock)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(JWKS_URL).mock(
            side_effect=[
                httpx.Response(200, json=_jwks(ec_key)),
                httpx.Response(200, json=_jwks(other_ec_key, ec_key)),
            ]
        )
        assert await verifier.verify(forge.sign(ec_key, forge.access_claims()))
        assert route.call_count == 1
        mono.now += 60  # the issuer rotates in a new key
        assert await verifier.verify(forge.sign(other_ec_key, forge.access_claims()))
        assert route.call_count == 2
        for _ in range(5):
            await verifier.verify(forge.sign(other_ec_key, forge.access_claims()))
            await verifier.verify(forge.sign(ec_key, forge.access_claims()))
        assert route.call_count == 2


class SlowJwksServer:
    """An issuer whose JWKS answer is held until the test opens the gate: a slow issuer after a restart."""

    def __init__(self, *keys: Any) -> None:
        self.document = _jwks(*keys)
        self.gate = asyncio.Event()
        self.fetches = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        await self.gate.wait()
        self.gate.clear()  # the next fetch is slow too
        return httpx.Response(200, json=self.document)


async def _verify_all_while_the_fetch_is_held(
    server: SlowJwksServer, tokens: list[str], verifier: Any
) -> list[Any]:
    tasks = [asyncio.create_task(verifier.verify(token)) for token in tokens]
    for _ in range(100):  # every request reaches the key cache while the issuer has not answered
        await asyncio.sleep(0)
    server.gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.anyio
async def test_requests_arriving_during_the_first_fetch_wait_for_it_and_none_is_refused(
    ec_key: ECKey, forge: Any, clock: Any, mono: Any
) -> None:
    server = SlowJwksServer(ec_key)
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as client:
        jwks = RemoteJwks(JWKS_URL, client=client, ttl_s=300, min_refetch_s=30, clock=mono)
        verifier = TokenVerifier(jwks, forge.ISSUER, forge.AUDIENCE, clock=clock)
        tokens = [forge.sign(ec_key, forge.access_claims(jti=f"start-{n}")) for n in range(8)]
        outcomes = await _verify_all_while_the_fetch_is_held(server, tokens, verifier)
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert server.fetches == 1


@pytest.mark.anyio
async def test_requests_arriving_during_a_rotation_refetch_wait_for_it_and_none_is_refused(
    ec_key: ECKey, other_ec_key: ECKey, forge: Any, clock: Any, mono: Any
) -> None:
    server = SlowJwksServer(ec_key)
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handle)) as client:
        jwks = RemoteJwks(JWKS_URL, client=client, ttl_s=300, min_refetch_s=30, clock=mono)
        verifier = TokenVerifier(jwks, forge.ISSUER, forge.AUDIENCE, clock=clock)
        server.gate.set()
        assert await verifier.verify(forge.sign(ec_key, forge.access_claims(jti="before")))
        mono.now += 60
        server.document = _jwks(other_ec_key, ec_key)  # the issuer rotates in a new key
        tokens = [
            forge.sign(key, forge.access_claims(jti=f"rotation-{n}"))
            for n in range(8)
            for key in (other_ec_key, ec_key)
        ]
        outcomes = await _verify_all_while_the_fetch_is_held(server, tokens, verifier)
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert server.fetches == 2


@pytest.mark.anyio
async def test_unknown_kids_cannot_make_us_refetch_faster_than_the_minimum_interval(
    ec_key: ECKey, other_ec_key: ECKey, forge: Any, clock: Any, mono: Any
) -> None:
    jwks = RemoteJwks(JWKS_URL, ttl_s=300, min_refetch_s=30, clock=mono)
    verifier = TokenVerifier(jwks, forge.ISSUER, forge.AUDIENCE, clock=clock)
    with respx.mock() as mock:
        route = mock.get(JWKS_URL).mock(return_value=httpx.Response(200, json=_jwks(ec_key)))
        for _ in range(20):
            with pytest.raises(Unauthorized, match="key this server does not know"):
                await verifier.verify(forge.sign(other_ec_key, forge.access_claims()))
            mono.now += 1
        assert route.call_count == 1  # 20 seconds of forged kids, one fetch
        mono.now += 30
        with pytest.raises(Unauthorized):
            await verifier.verify(forge.sign(other_ec_key, forge.access_claims()))
        assert route.call_count == 2


@pytest.mark.anyio
async def test_the_cache_expires_after_its_ttl(ec_key: ECKey, mono: Any) -> None:
    jwks = RemoteJwks(JWKS_URL, ttl_s=300, min_refetch_s=30, clock=mono)
    with respx.mock() as mock:
        route = mock.get(JWKS_URL).mock(return_value=httpx.Response(200, json=_jwks(ec_key)))
        assert ec_key.kid is not None
        await jwks.key_for(ec_key.kid)
        mono.now += 299
        await jwks.key_for(ec_key.kid)
        assert route.call_count == 1
        mono.now += 1
        await jwks.key_for(ec_key.kid)
        assert route.call_count == 2


@pytest.mark.anyio
async def test_an_issuer_outage_keeps_the_cached_keys(ec_key: ECKey, mono: Any) -> None:
    jwks = RemoteJwks(JWKS_URL, ttl_s=300, min_refetch_s=30, clock=mono)
    assert ec_key.kid is not None
    with respx.mock() as mock:
        mock.get(JWKS_URL).mock(
            side_effect=[httpx.Response(200, json=_jwks(ec_key)), httpx.ConnectError("down")]
        )
        assert await jwks.key_for(ec_key.kid) is not None
        mono.now += 301
        assert await jwks.key_for(ec_key.kid) is not None


@pytest.mark.anyio
async def test_an_unreachable_issuer_means_401_not_a_crash(ec_key: ECKey, forge: Any, clock: Any) -> None:
    verifier = TokenVerifier(RemoteJwks(JWKS_URL), forge.ISSUER, forge.AUDIENCE, clock=clock)
    with respx.mock() as mock:
        mock.get(JWKS_URL).mock(return_value=httpx.Response(503))
        with pytest.raises(Unauthorized):
            await verifier.verify(forge.sign(ec_key, forge.access_claims()))


def test_a_jwks_document_yields_only_public_p384_and_large_rsa_signing_keys(
    ec_key: ECKey, rsa_key: RSAKey
) -> None:
    small_ec = ECKey.generate_key("P-256", private=True, auto_kid=True)
    with pytest.warns(SecurityWarning):
        small_rsa = RSAKey.generate_key(1024, private=True, auto_kid=True)
    document = {
        "keys": [
            ec_key.as_dict(private=False),
            rsa_key.as_dict(private=False),
            small_ec.as_dict(private=False),
            small_rsa.as_dict(private=False),
            ec_key.as_dict(private=True) | {"kid": "leaked-private"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            ec_key.as_dict(private=False) | {"kid": "enc", "use": "enc"},
            {"kty": "EC", "kid": "broken"},
            "not a key",
        ]
    }
    assert set(public_keys(document)) == {ec_key.kid, rsa_key.kid}
