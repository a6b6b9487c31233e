"""Settings refuse unsafe combinations outside development."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.auth import AuthSettings


def test_the_development_defaults_run_the_embedded_issuer_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAINREVIEW_VAR_DIR", raising=False)
    settings = AuthSettings()
    assert settings.mode == "embedded"
    assert settings.token_endpoint == "http://localhost:8000/auth/token"
    assert settings.issuer_key_path == Path("var/issuer-key.json")


def test_settings_come_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAINREVIEW_AUTH_MODE", "external")
    monkeypatch.setenv("PAINREVIEW_AUTH_ISSUER", "https://idp.example.nhs.uk")
    monkeypatch.setenv("PAINREVIEW_AUTH_JWKS_URL", "https://idp.example.nhs.uk/jwks")
    monkeypatch.setenv("PAINREVIEW_AUTH_AUDIENCE", "https://a/fhir, https://b/fhir")
    monkeypatch.setenv("PAINREVIEW_VAR_DIR", "/srv/painreview")
    settings = AuthSettings()
    assert settings.jwks_uri == "https://idp.example.nhs.uk/jwks"
    assert settings.audiences == ["https://a/fhir", "https://b/fhir"]
    assert settings.var_dir == Path("/srv/painreview")


PRODUCTION = {
    "environment": "production",
    "mode": "external",
    "issuer": "https://idp.example.nhs.uk",
    "jwks_url": "https://idp.example.nhs.uk/jwks",
}


def test_a_production_configuration_with_an_external_https_issuer_is_accepted() -> None:
    assert AuthSettings(**PRODUCTION).mode == "external"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"mode": "embedded"}, "external issuer"),
        ({"issuer": "http://idp.example.nhs.uk"}, "https"),
        ({"jwks_url": "http://idp.example.nhs.uk/jwks"}, "https"),
        ({"allow_insecure_http": True}, "development only"),
        ({"database_url": "postgresql://auth:changethis@db/auth"}, "placeholder password"),
        ({"jwks_url": None}, "JWKS_URL"),
    ],
)
def test_production_refuses_unsafe_settings(overrides: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        AuthSettings(**{**PRODUCTION, **overrides})


def test_an_issuer_recorded_by_up_is_used_unless_the_environment_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAINREVIEW_AUTH_ISSUER", raising=False)
    monkeypatch.delenv("PAINREVIEW_AUTH_AUDIENCE", raising=False)
    assert AuthSettings(var_dir=tmp_path).issuer == "http://localhost:8000/auth"  # nothing recorded yet
    AuthSettings(var_dir=tmp_path).advertise("http://127.0.0.1:9123")
    recorded = AuthSettings(var_dir=tmp_path)
    assert (recorded.issuer, recorded.audiences) == (
        "http://127.0.0.1:9123/auth",
        ["http://127.0.0.1:9123/fhir"],
    )
    assert recorded.token_endpoint == "http://127.0.0.1:9123/auth/token"
    monkeypatch.setenv("PAINREVIEW_AUTH_ISSUER", "http://issuer.example/auth")
    assert AuthSettings(var_dir=tmp_path).issuer == "http://issuer.example/auth"
