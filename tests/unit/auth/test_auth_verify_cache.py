"""Verified tokens are remembered: the signature is checked once, the claims at every use."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from joserfc.jwk import ECKey, Key, RSAKey

from shared.auth import LocalJwks, TokenVerifier
from shared.auth import verify as verify_module
from shared.core.errors import Unauthorized


@pytest.fixture
def signatures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every signature check the verifier makes (the token checked), in order."""
    checked: list[str] = []
    real = verify_module.verify_signed

    def counting(token: str, key: Key, alg: str) -> dict[str, Any]:
        checked.append(token)
        return real(token, key, alg)

    monkeypatch.setattr(verify_module, "verify_signed", counting)
    return checked


def run(verifier: TokenVerifier, token: str) -> Any:
    return asyncio.run(verifier.verify(token))


def test_the_same_token_again_skips_the_signature_check(
    verifier: TokenVerifier, forge: Any, ec_key: ECKey, signatures: list[str]
) -> None:
    token = forge.sign(ec_key, forge.access_claims())
    first, again = run(verifier, token), run(verifier, token)
    assert first == again and first.practice == "A81001"
    assert signatures == [token]


def test_a_remembered_token_is_refused_once_it_expires(
    verifier: TokenVerifier, forge: Any, ec_key: ECKey, clock: Any, signatures: list[str]
) -> None:
    token = forge.sign(ec_key, forge.access_claims(exp=forge.NOW + 60))
    run(verifier, token)
    clock.advance(60 + 30 + 1)  # past exp and the leeway
    with pytest.raises(Unauthorized, match="expired"):
        run(verifier, token)
    assert signatures == [token]  # refused from what was remembered, by the clock


def test_a_remembered_token_is_refused_while_not_yet_valid(
    verifier: TokenVerifier, forge: Any, ec_key: ECKey, clock: Any
) -> None:
    token = forge.sign(ec_key, forge.access_claims(nbf=forge.NOW + 600, exp=forge.NOW + 900))
    clock.advance(600)
    run(verifier, token)
    clock.advance(-600)  # the clock stepped back: the claims are checked again, not remembered
    with pytest.raises(Unauthorized):
        run(verifier, token)


def test_a_token_whose_key_was_withdrawn_is_refused_though_remembered(
    forge: Any, ec_key: ECKey, rsa_key: RSAKey, clock: Any
) -> None:
    published: list[Key] = [ec_key, rsa_key]
    verifier = TokenVerifier(LocalJwks(lambda: published), forge.ISSUER, forge.AUDIENCE, clock=clock)
    token = forge.sign(ec_key, forge.access_claims())
    run(verifier, token)
    published.remove(ec_key)
    with pytest.raises(Unauthorized, match="key this server does not know"):
        run(verifier, token)


def test_another_token_text_is_verified_on_its_own(
    verifier: TokenVerifier, forge: Any, ec_key: ECKey, signatures: list[str]
) -> None:
    token = forge.sign(ec_key, forge.access_claims())
    run(verifier, token)
    head, body, signature = token.split(".")
    tampered = f"{head}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    with pytest.raises(Unauthorized, match="signature"):
        run(verifier, tampered)
    assert signatures == [token, tampered]


def test_refused_tokens_are_not_remembered(
    verifier: TokenVerifier, forge: Any, ec_key: ECKey, signatures: list[str]
) -> None:
    token = forge.sign(ec_key, forge.access_claims(aud="https://elsewhere/fhir"))
    for _ in range(2):
        with pytest.raises(Unauthorized):
            run(verifier, token)
    assert signatures == [token, token]


def test_the_memory_is_bounded(
    verifier: TokenVerifier, forge: Any, ec_key: ECKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "CACHED_TOKENS", 3)
    tokens = [forge.sign(ec_key, forge.access_claims()) for _ in range(5)]
    for token in tokens:
        run(verifier, token)
    assert len(verifier._verified) == 3
    for token in tokens:  # the forgotten ones still verify, the long way
        assert run(verifier, token).practice == "A81001"
