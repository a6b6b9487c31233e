"""The embedded issuer's key file: created once, owner-only, rotated without breaking tokens in flight."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import anyio
import pytest

from shared.auth import TokenVerifier
from shared.auth.issuer import IssuerKeys, RegisteredClient, TokenIssuer


def test_the_key_file_is_created_on_first_use_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "issuer-key.json"
    key = IssuerKeys(path).signing_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.is_private
    assert IssuerKeys(path).signing_key().kid == key.kid  # a second reader uses the same key
    assert [p.name for p in path.parent.iterdir()] == ["issuer-key.json"]  # no temp files left


def test_an_rs384_issuer_key_is_rsa(tmp_path: Path) -> None:
    keys = IssuerKeys(tmp_path / "k.json", algorithm="RS384")
    assert keys.jwks()["keys"][0]["kty"] == "RSA"


def test_a_key_file_left_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "issuer-key.json"
    IssuerKeys(path).signing_key()
    path.chmod(0o644)
    IssuerKeys(path).signing_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_key_file_holding_public_keys_only_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "issuer-key.json"
    keys = IssuerKeys(path)
    path.write_text(json.dumps(keys.jwks()))
    with pytest.raises(ValueError, match="no usable private"):
        IssuerKeys(path).signing_key()


def test_tokens_signed_before_a_rotation_still_verify_and_new_ones_use_the_new_key(
    token_issuer: TokenIssuer, forge: Any, clock: Any, tmp_path: Path
) -> None:
    client = RegisteredClient("gp-a", "A81001", "gp-system", "system/Patient.rs")
    server_keys = IssuerKeys(token_issuer.keys.path)  # the server's own reader of the same file
    verifier = TokenVerifier(server_keys, forge.ISSUER, forge.AUDIENCE, clock=clock)
    before = token_issuer.mint(client, "system/Patient.rs")
    assert anyio.run(verifier.verify, before)

    new_key = token_issuer.keys.rotate()
    after = token_issuer.mint(client, "system/Patient.rs")
    assert json.loads(_b64(after.split(".")[0]))["kid"] == new_key.kid
    assert anyio.run(verifier.verify, before)  # the old key is still published
    assert anyio.run(verifier.verify, after)  # the server picked up the rotated file

    token_issuer.keys.rotate()
    with pytest.raises(Exception, match="key this server does not know"):
        anyio.run(verifier.verify, before)  # two rotations later the first key is gone


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
