"""Finding 9, clients: ``pain-review clients`` could not disable a client or revoke a key, and ``/auth/token``
was not rate limited nor its failed assertions audited. Replayed as the attack: a client with a leaked
key keeps asking for tokens; once disabled, or its key rotated, the token endpoint refuses it (a
rotated-out key for good); a stranger's assertions are audited one by one, then 429."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from painreview.auth_cli import clients
from shared.auth import AuthSettings
from shared.auth.issuer import embedded_issuer, issuer_router
from shared.auth.issuer.router import token_rate_limiter


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PAINREVIEW_VAR_DIR", str(tmp_path))
    for name in ("MODE", "DATABASE_URL", "ISSUER", "AUDIENCE", "ENVIRONMENT"):
        monkeypatch.delenv(f"PAINREVIEW_AUTH_{name}", raising=False)
    return tmp_path


@pytest.fixture
def endpoint(var_dir: Path) -> Iterator[tuple[TestClient, AuthSettings]]:
    settings = AuthSettings()
    issuer = embedded_issuer(settings)
    app = FastAPI()
    app.include_router(issuer_router(issuer))
    with TestClient(app) as client:
        yield client, settings
    issuer.registry.engine.dispose()


def _key_file(directory: Path, name: str) -> tuple[ECKey, Path]:
    key = ECKey.generate_key("P-384", private=True, auto_kid=True)
    path = directory / f"{name}.jwk.json"
    path.write_text(json.dumps(key.as_dict(private=False)))
    return key, path


def _ask(client: TestClient, settings: AuthSettings, key: ECKey) -> int:
    now = int(time.time())
    claims = {
        "iss": "emis-a",
        "sub": "emis-a",
        "aud": settings.token_endpoint,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
    }
    assertion = jwt.encode({"alg": "ES384", "kid": key.kid}, claims, key, algorithms=["ES384"])
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        "scope": "system/Patient.rs",
    }
    return client.post("/auth/token", data=form).status_code


def _cli(*args: str) -> str:
    result = CliRunner().invoke(clients, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_disabled_client_and_a_rotated_out_key_get_no_token(
    var_dir: Path, endpoint: tuple[TestClient, AuthSettings]
) -> None:
    client, settings = endpoint
    leaked, leaked_file = _key_file(var_dir, "leaked")
    _cli(
        "add",
        "--client-id",
        "emis-a",
        "--practice",
        "A81001",
        "--scopes",
        "system/Patient.rs",
        "--jwk-file",
        str(leaked_file),
    )
    assert _ask(client, settings, leaked) == 200

    _cli("disable", "emis-a")
    assert _ask(client, settings, leaked) in (400, 401)
    assert "disabled" in _cli("list")
    _cli("enable", "emis-a")
    assert _ask(client, settings, leaked) == 200

    fresh, fresh_file = _key_file(var_dir, "fresh")
    assert fresh.kid in _cli("rotate-key", "emis-a", "--jwk-file", str(fresh_file))
    assert _ask(client, settings, leaked) in (400, 401)
    assert _ask(client, settings, fresh) == 200
    listed = _cli("list")
    assert "emis-a" in listed and fresh.kid in listed and leaked.kid not in listed and "enabled" in listed


def test_managing_a_client_that_is_not_registered_says_so(var_dir: Path) -> None:
    for args in (["disable", "nobody"], ["enable", "nobody"]):
        result = CliRunner().invoke(clients, args)
        assert result.exit_code == 1 and "not registered" in result.output


def test_refused_assertions_are_audited_and_the_token_endpoint_is_rate_limited(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAINREVIEW_AUTH_TOKEN_REQUESTS_PER_MINUTE", "1")
    monkeypatch.setenv("PAINREVIEW_AUTH_TOKEN_REQUESTS_BURST", "5")
    settings = AuthSettings()
    issuer = embedded_issuer(settings)
    app = FastAPI()
    app.include_router(issuer_router(issuer, rate_limiter=token_rate_limiter(settings)))
    stranger = ECKey.generate_key("P-384", private=True, auto_kid=True)
    with TestClient(app) as client:
        statuses = [_ask(client, settings, stranger) for _ in range(8)]
        throttled = client.post("/auth/token", data={"grant_type": "client_credentials"})
    issuer.registry.engine.dispose()
    assert statuses == [401] * 5 + [429] * 3
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
    listed = _cli("refusals")
    assert listed.count("emis-a") == 5 and "invalid_client" in listed  # the five let through, each audited
    assert "eyJ" not in listed  # never the assertion itself
