"""The embedded SMART Backend Services token endpoint, over HTTP."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey, RSAKey

from shared.auth import LocalJwks, RegisteredClient, TokenVerifier
from shared.auth.issuer import JWT_BEARER, ClientRegistry, TokenIssuer
from shared.auth.jwks import public_keys


def _form(assertion: str, scope: str = "system/Patient.rs", **overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        "scope": scope,
    }
    form.update(overrides)
    return form


def _post(client: TestClient, form: dict[str, str]) -> Any:
    return client.post("/auth/token", data=form)


def test_a_signed_assertion_gets_an_access_token_the_verifier_accepts(
    issuer_client: TestClient,
    gp_client: RegisteredClient,
    ec_key: ECKey,
    forge: Any,
    token_issuer: TokenIssuer,
    clock: Any,
) -> None:
    response = _post(issuer_client, _form(forge.sign(ec_key, forge.assertion_claims())))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "system/Patient.rs"
    assert response.headers["cache-control"] == "no-store"

    keys = issuer_client.get("/auth/jwks.json").json()
    verifier = TokenVerifier(
        LocalJwks(list(public_keys(keys).values())), forge.ISSUER, forge.AUDIENCE, clock=clock
    )
    principal = anyio.run(verifier.verify, body["access_token"])
    assert principal.client_id == "gp-a"
    assert principal.practice == "A81001"
    assert principal.role == "gp-system"
    assert principal.allows("Patient", "r") and not principal.allows("Patient", "c")


def test_an_rs384_assertion_from_a_client_with_an_rsa_key_is_accepted(
    issuer_client: TestClient, registry: ClientRegistry, rsa_key: RSAKey, forge: Any
) -> None:
    registry.add(
        RegisteredClient(
            client_id="worker-1",
            practice="RX1",
            role="project-worker",
            scopes="system/*.rs",
            jwks={"keys": [rsa_key.as_dict(private=False)]},
            practices=frozenset({"A81001", "B82002"}),
        )
    )
    assertion = forge.sign(rsa_key, forge.assertion_claims("worker-1"))
    response = _post(issuer_client, _form(assertion, scope="system/Patient.rs system/Condition.r"))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "system/Condition.r system/Patient.rs"


def test_a_replayed_assertion_with_the_same_jti_is_rejected(
    issuer_client: TestClient, gp_client: RegisteredClient, ec_key: ECKey, forge: Any
) -> None:
    assertion = forge.sign(ec_key, forge.assertion_claims(jti="once-only"))
    assert _post(issuer_client, _form(assertion)).status_code == 200
    replay = _post(issuer_client, _form(assertion))
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"
    # A fresh assertion reusing the jti is a replay too.
    again = forge.sign(ec_key, forge.assertion_claims(jti="once-only", exp=forge.NOW + 200))
    assert _post(issuer_client, _form(again)).status_code == 401


def test_an_assertion_expiring_ten_minutes_ahead_is_rejected(
    issuer_client: TestClient, gp_client: RegisteredClient, ec_key: ECKey, forge: Any
) -> None:
    assertion = forge.sign(ec_key, forge.assertion_claims(exp=forge.NOW + 600))
    response = _post(issuer_client, _form(assertion))
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "client_assertion exp must be no more than five minutes ahead",
    }


def test_requested_scopes_are_narrowed_to_those_registered(
    issuer_client: TestClient, gp_client: RegisteredClient, ec_key: ECKey, forge: Any
) -> None:
    scope = "system/*.cruds system/AuditEvent.rs user/Patient.cruds launch"
    response = _post(issuer_client, _form(forge.sign(ec_key, forge.assertion_claims()), scope=scope))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "system/Condition.rs system/Patient.cruds"


def test_a_request_for_only_unregistered_scopes_is_invalid_scope(
    issuer_client: TestClient, gp_client: RegisteredClient, ec_key: ECKey, forge: Any
) -> None:
    assertion = forge.sign(ec_key, forge.assertion_claims())
    response = _post(issuer_client, _form(assertion, scope="system/AuditEvent.rs"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


BAD_ASSERTIONS = {
    "signed by another key under the registered kid": lambda f, ec, other: f.sign(
        other, f.assertion_claims(), kid=ec.kid
    ),
    "signed by an unregistered key": lambda f, ec, other: f.sign(other, f.assertion_claims()),
    "unregistered client": lambda f, ec, other: f.sign(ec, f.assertion_claims("stranger")),
    "sub differs from iss": lambda f, ec, other: f.sign(ec, f.assertion_claims(sub="someone-else")),
    "aud is not the token endpoint": lambda f, ec, other: f.sign(
        ec, f.assertion_claims(aud="https://fhir.test/fhir")
    ),
    "expired": lambda f, ec, other: f.sign(ec, f.assertion_claims(exp=f.NOW - 60)),
    "no exp": lambda f, ec, other: f.sign(ec, {**f.assertion_claims(), "exp": None}),
    "exp that is a boolean": lambda f, ec, other: f.sign(ec, f.assertion_claims(exp=True)),
    "issued in the future": lambda f, ec, other: f.sign(ec, f.assertion_claims(iat=f.NOW + 120)),
    "no jti": lambda f, ec, other: f.sign(ec, {**f.assertion_claims(), "jti": None}),
    "alg none": lambda f, ec, other: f.unsigned({"alg": "none", "kid": ec.kid}, f.assertion_claims()),
    "HS256 keyed with the public key": lambda f, ec, other: f.hs256_with_public_key(ec, f.assertion_claims()),
    "jku header pointing elsewhere": lambda f, ec, other: f.sign(
        ec, f.assertion_claims(), jku="https://evil.test/jwks"
    ),
}


@pytest.mark.parametrize("case", list(BAD_ASSERTIONS))
def test_a_bad_client_assertion_is_invalid_client(
    issuer_client: TestClient,
    gp_client: RegisteredClient,
    ec_key: ECKey,
    other_ec_key: ECKey,
    forge: Any,
    case: str,
) -> None:
    assertion = BAD_ASSERTIONS[case](forge, ec_key, other_ec_key)
    response = _post(issuer_client, _form(assertion))
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()
    assert assertion.split(".")[1] not in response.text


def test_a_disabled_client_gets_no_token(
    issuer_client: TestClient,
    gp_client: RegisteredClient,
    registry: ClientRegistry,
    ec_key: ECKey,
    forge: Any,
) -> None:
    registry.set_disabled("gp-a")
    response = _post(issuer_client, _form(forge.sign(ec_key, forge.assertion_claims())))
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        (
            {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
            400,
            "invalid_request",
        ),
        ({"client_assertion": ""}, 400, "invalid_request"),
        ({"scope": ""}, 400, "invalid_request"),
    ],
)
def test_a_malformed_token_request_is_an_oauth_error(
    issuer_client: TestClient,
    gp_client: RegisteredClient,
    ec_key: ECKey,
    forge: Any,
    overrides: dict[str, str],
    status: int,
    error: str,
) -> None:
    response = _post(issuer_client, _form(forge.sign(ec_key, forge.assertion_claims()), **overrides))
    assert response.status_code == status
    assert response.json()["error"] == error


def test_a_token_request_as_json_or_with_repeated_parameters_is_refused(
    issuer_client: TestClient, gp_client: RegisteredClient, ec_key: ECKey, forge: Any
) -> None:
    form = _form(forge.sign(ec_key, forge.assertion_claims()))
    assert issuer_client.post("/auth/token", json=form).status_code == 400
    body = "&".join(f"{k}={v}" for k, v in form.items()) + "&scope=system/Condition.rs"
    response = issuer_client.post(
        "/auth/token", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_the_jwks_publishes_public_keys_only_and_keeps_the_previous_key_after_rotation(
    issuer_client: TestClient, token_issuer: TokenIssuer
) -> None:
    first = issuer_client.get("/auth/jwks.json").json()["keys"]
    assert len(first) == 1 and "d" not in first[0] and first[0]["crv"] == "P-384"
    token_issuer.keys.rotate()
    rotated = issuer_client.get("/auth/jwks.json").json()["keys"]
    assert [k["kid"] for k in rotated][1:] == [first[0]["kid"]]
    assert all("d" not in k for k in rotated)


def test_smart_configuration_advertises_backend_services(issuer_client: TestClient, forge: Any) -> None:
    config = issuer_client.get("/fhir/.well-known/smart-configuration").json()
    assert config["token_endpoint"] == forge.TOKEN_URL
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert config["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert config["grant_types_supported"] == ["client_credentials"]
    assert "client-confidential-asymmetric" in config["capabilities"]
    assert "permission-v2" in config["capabilities"]
    assert config["scopes_supported"] == ["system/*.rs"]
