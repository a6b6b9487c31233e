"""``pain-review clients add`` and ``pain-review token``: the embedded issuer from the command line.

Both use the var directory of the running embedded stack (``--var-dir``, else ``PAINREVIEW_VAR_DIR``,
else ``./var``): its ``issuer-key.json`` and ``auth.db`` (or ``PAINREVIEW_AUTH_DATABASE_URL``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import click
from pydantic import ValidationError

from shared.auth.claims import CLIENT_ROLES
from shared.auth.issuer import (
    ClientRegistrationError,
    ClientRegistry,
    RegisteredClient,
    issuer_engine,
    jwks_from_document,
    local_client_id,
    mint_local_token,
)
from shared.auth.settings import AuthSettings
from shared.core.principal import Role

_var_dir = click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PAINREVIEW_VAR_DIR",
    default=Path("var"),
    show_default=True,
    help="Directory holding the embedded issuer's key and database.",
)
_role = click.option(
    "--role",
    type=click.Choice(sorted(CLIENT_ROLES)),
    default="gp-system",
    show_default=True,
    help="What the client is: a GP system, service staff, or an auditor.",
)
_practices = click.option(
    "--practices",
    default="",
    help="Staff roles only: ODS codes of assigned practices, space or comma separated.",
)


def _settings(var_dir: Path) -> AuthSettings:
    try:
        return AuthSettings(var_dir=var_dir)
    except ValidationError as exc:
        problems = "; ".join(str(error["msg"]) for error in exc.errors())
        raise click.ClickException(f"auth settings are invalid: {problems}") from None


def _codes(text: str) -> frozenset[str]:
    return frozenset(code.upper() for code in text.replace(",", " ").split())


@click.group("clients")
def clients() -> None:
    """Clients registered with the embedded token endpoint."""


@clients.command("add")
@click.option("--client-id", required=True, help="The client's OAuth client_id.")
@click.option("--practice", required=True, help="ODS code of the organisation it acts for, e.g. A81001.")
@_role
@click.option("--scopes", required=True, help='Allowed SMART scopes, e.g. "system/Patient.rs".')
@click.option(
    "--jwk-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The client's PUBLIC key: one JWK or a JWK set (RS384/ES384, each with a kid).",
)
@_practices
@_var_dir
def add_client(
    client_id: str, practice: str, role: str, scopes: str, jwk_file: Path, practices: str, var_dir: Path
) -> None:
    """Register a client that may ask for tokens with a signed client assertion."""
    settings = _settings(var_dir)
    try:
        document: Any = json.loads(jwk_file.read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read a JWK from {jwk_file}: {type(exc).__name__}") from None
    engine = issuer_engine(settings)
    try:
        client = RegisteredClient(
            client_id=client_id,
            practice=practice.upper(),
            role=role,
            scopes=scopes,
            jwks=jwks_from_document(document),
            practices=_codes(practices),
        )
        ClientRegistry(engine).add(client)
    except ClientRegistrationError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"registered {client_id} ({role}, {client.practice}) for: {' '.join(scopes.split())}")


def _registry_call(var_dir: Path, action: Any) -> Any:
    engine = issuer_engine(_settings(var_dir))
    try:
        return action(ClientRegistry(engine))
    except ClientRegistrationError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()


@clients.command("list")
@_var_dir
def list_clients(var_dir: Path) -> None:
    """Every registered client: id, role, practice, state, key ids and allowed scopes."""
    for client in _registry_call(var_dir, lambda registry: registry.all()):
        state = "disabled" if client.disabled else "enabled"
        kids = ",".join(sorted(client.keys())) or "-"
        click.echo(
            f"{client.client_id}  {client.role}  {client.practice}  {state}  keys={kids}  {client.scopes}"
        )


@clients.command("disable")
@click.argument("client_id")
@_var_dir
def disable_client(client_id: str, var_dir: Path) -> None:
    """Refuse the client any new token (tokens already issued expire within their lifetime)."""
    _registry_call(var_dir, lambda registry: registry.set_disabled(client_id, True))
    click.echo(f"{client_id} disabled")


@clients.command("enable")
@click.argument("client_id")
@_var_dir
def enable_client(client_id: str, var_dir: Path) -> None:
    """Let a disabled client ask for tokens again."""
    _registry_call(var_dir, lambda registry: registry.set_disabled(client_id, False))
    click.echo(f"{client_id} enabled")


@clients.command("rotate-key")
@click.argument("client_id")
@click.option(
    "--jwk-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The client's new PUBLIC key(s); every key not in it is revoked.",
)
@_var_dir
def rotate_key(client_id: str, jwk_file: Path, var_dir: Path) -> None:
    """Replace the client's keys: assertions signed with any other key are refused from now on."""
    try:
        document: Any = json.loads(jwk_file.read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read a JWK from {jwk_file}: {type(exc).__name__}") from None
    try:
        jwks = jwks_from_document(document)
    except ClientRegistrationError as exc:
        raise click.ClickException(str(exc)) from None
    rotated = _registry_call(var_dir, lambda registry: registry.replace_keys(client_id, jwks))
    click.echo(f"{client_id} now has keys: {', '.join(sorted(rotated.keys()))}")


@clients.command("refusals")
@click.option("--limit", default=50, show_default=True)
@_var_dir
def refusals(limit: int, var_dir: Path) -> None:
    """Refused token requests, newest first: when, from where, the client id claimed, why."""
    rows = _registry_call(var_dir, lambda registry: registry.refusals(limit))
    if not rows:
        click.echo("no refused token requests")
    for row in rows:
        who = row["claimed_client_id"] or "-"
        click.echo(f"{row['at']}  {row['address']:<15} {who:<30} {row['error']}: {row['description']}")


@click.command("token")
@click.option("--practice", required=True, help="ODS code the token acts for, e.g. A81001.")
@click.option("--scope", required=True, help='SMART system scopes, e.g. "system/Patient.rs".')
@_role
@_practices
@click.option("--lifetime", type=click.IntRange(30, 3600), default=None, help="Seconds; default 300.")
@_var_dir
def token(practice: str, scope: str, role: str, practices: str, lifetime: int | None, var_dir: Path) -> None:
    """Mint an access token with the embedded issuer's key; the token alone is the last line."""
    settings = _settings(var_dir)
    try:
        access_token = mint_local_token(
            settings,
            practice=practice.upper(),
            scope=scope,
            role=cast(Role, role),
            practices=_codes(practices),
            lifetime_s=lifetime,
        )
    except ValueError as exc:  # ClientRegistrationError included
        raise click.ClickException(str(exc)) from None
    seconds = lifetime or settings.token_lifetime_s
    click.echo(f"client {local_client_id(role, practice.upper())}, valid {seconds} s", err=True)
    click.echo(access_token)
