"""``pain-review clients add`` and ``pain-review token`` against a var directory."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey

from painreview.auth_cli import clients, token
from shared.auth import Authenticator, AuthSettings, ClientRegistry
from shared.auth.issuer import embedded_issuer, issuer_engine, issuer_router


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PAINREVIEW_VAR_DIR", str(tmp_path))
    for name in ("MODE", "DATABASE_URL", "ISSUER", "AUDIENCE", "ENVIRONMENT"):
        monkeypatch.delenv(f"PAINREVIEW_AUTH_{name}", raising=False)
    return tmp_path


def test_token_prints_the_token_alone_on_its_last_line_and_the_stack_accepts_it(var_dir: Path) -> None:
    result = CliRunner().invoke(
        token, ["--practice", "a81001", "--scope", "system/Patient.rs system/Condition.read"]
    )
    assert result.exit_code == 0, result.output
    access_token = result.stdout.strip().splitlines()[-1]
    assert access_token.count(".") == 2 and " " not in access_token

    key_file = var_dir / "issuer-key.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    principal = anyio.run(Authenticator.from_settings(AuthSettings()).verifier.verify, access_token)
    assert principal.practice == "A81001"
    assert principal.client_id == "local-cli-gp-system-A81001"
    assert principal.allows("Condition", "s") and not principal.allows("Patient", "c")


def test_a_staff_token_carries_its_assigned_practices(var_dir: Path) -> None:
    result = CliRunner().invoke(
        token,
        [
            "--practice",
            "RX1",
            "--role",
            "project-worker",
            "--scope",
            "system/*.rs",
            "--practices",
            "A81001,B82002",
        ],
    )
    assert result.exit_code == 0, result.output
    verifier = Authenticator.from_settings(AuthSettings()).verifier
    principal = anyio.run(verifier.verify, result.stdout.splitlines()[-1])
    assert principal.tenants == {"RX1", "A81001", "B82002"}


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--practice", "not an ods code!", "--scope", "system/Patient.rs"], "ODS code"),
        (["--practice", "A81001", "--scope", "launch openid"], "no usable scope"),
        (["--practice", "A81001", "--scope", "system/*.rs", "--practices", "B82002"], "project-worker"),
    ],
)
def test_token_refuses_bad_input_without_a_traceback(var_dir: Path, args: list[str], complaint: str) -> None:
    result = CliRunner().invoke(token, args)
    assert result.exit_code == 1
    assert complaint in result.output
    assert "Traceback" not in result.output


def test_token_refuses_to_mint_when_the_stack_uses_an_external_issuer(
    var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAINREVIEW_AUTH_MODE", "external")
    monkeypatch.setenv("PAINREVIEW_AUTH_JWKS_URL", "https://idp.example/jwks")
    result = CliRunner().invoke(token, ["--practice", "A81001", "--scope", "system/Patient.rs"])
    assert result.exit_code == 1
    assert "embedded" in result.output


def test_a_client_added_on_the_command_line_can_get_a_token_at_the_endpoint(
    var_dir: Path, tmp_path: Path, ec_key: ECKey, forge: Any
) -> None:
    jwk_file = tmp_path / "client.jwk.json"
    jwk_file.write_text(json.dumps(ec_key.as_dict(private=False)))
    result = CliRunner().invoke(
        clients,
        [
            "add",
            "--client-id",
            "emis-a",
            "--practice",
            "A81001",
            "--scopes",
            "system/Patient.rs",
            "--jwk-file",
            str(jwk_file),
        ],
    )
    assert result.exit_code == 0, result.output

    settings = AuthSettings()
    app_issuer = embedded_issuer(settings)
    app = FastAPI()
    app.include_router(issuer_router(app_issuer))
    claims = forge.assertion_claims("emis-a", aud=settings.token_endpoint, exp=int(time.time()) + 120)
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": forge.sign(ec_key, claims),
        "scope": "system/Patient.rs",
    }
    response = TestClient(app).post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    app_issuer.registry.engine.dispose()


def test_adding_a_private_key_or_the_same_client_twice_is_refused(
    var_dir: Path, tmp_path: Path, ec_key: ECKey
) -> None:
    private = tmp_path / "private.json"
    private.write_text(json.dumps(ec_key.as_dict(private=True)))
    args = ["add", "--client-id", "emis-a", "--practice", "A81001", "--scopes", "system/Patient.rs"]
    refused = CliRunner().invoke(clients, [*args, "--jwk-file", str(private)])
    assert refused.exit_code == 1
    assert "public key only" in refused.output

    public = tmp_path / "public.json"
    public.write_text(json.dumps({"keys": [ec_key.as_dict(private=False)]}))
    assert CliRunner().invoke(clients, [*args, "--jwk-file", str(public)]).exit_code == 0
    again = CliRunner().invoke(clients, [*args, "--jwk-file", str(public)])
    assert again.exit_code == 1
    assert "already registered" in again.output
    engine = issuer_engine(AuthSettings())
    assert list(ClientRegistry(engine).ids()) == ["emis-a"]
    engine.dispose()
