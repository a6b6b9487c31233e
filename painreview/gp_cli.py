"""``pain-review gp``: GP system configuration per practice, and the deliveries to GP systems.

Dead deliveries also appear in ``pain-review events dead-letters`` (consumer ``gpconnect-delivery:<kind>``)
and ``pain-review events replay gpconnect:<id>`` sends them again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Engine

from services.gpconnect import repository
from services.gpconnect.domain.practices import SUPPLIERS, InvalidPracticeConfig, PracticeConfig
from services.gpconnect.settings import GpconnectSettings
from shared.db import make_engine, migrate

__all__ = ["gp"]


@contextmanager
def _engine() -> Iterator[Engine]:
    from services.gpconnect.app import MIGRATIONS

    settings = GpconnectSettings()
    engine = make_engine(settings.resolved_database_url(), pool_size=1)
    try:
        if settings.run_migrations:
            migrate(MIGRATIONS, engine)
        yield engine
    finally:
        engine.dispose()


@click.group()
def gp() -> None:
    """GP systems: which practice runs which, and what was delivered to them.

    Reads the gpconnect database from GPCONNECT_DATABASE_URL (default: the embedded var/gpconnect.db
    under GPCONNECT_VAR_DIR, ./var).
    """


@gp.group()
def practices() -> None:
    """Per-practice GP system configuration."""


@practices.command("list")
def list_practices() -> None:
    with _engine() as engine, engine.connect() as conn:
        rows = repository.list_practices(conn)
    if not rows:
        click.echo("no practices configured")
    for p in rows:
        click.echo(
            f"{p.ods:<8} {p.supplier:<15} {p.endpoint}  mesh={p.mesh_mailbox or '-'} "
            f"bars={p.bars_endpoint or '-'} credentials={p.credentials_ref or '-'}"
        )


@practices.command("set")
@click.option("--ods", required=True, help="The practice's ODS code, e.g. A81001.")
@click.option("--supplier", required=True, type=click.Choice(SUPPLIERS))
@click.option("--endpoint", required=True, help="Base URL of the GP system's API.")
@click.option(
    "--credentials-ref",
    default="",
    help="Name of its bearer token in the secret store: the variable GPCONNECT_SECRET_<NAME> "
    "or the file <GPCONNECT_SECRETS_DIR>/<NAME>.",
)
@click.option("--mesh-mailbox", default="", help="The practice's MESH mailbox id.")
@click.option("--bars-endpoint", default="", help="Where BaRS servicerequest-response messages go.")
@click.option("--allow-private", is_flag=True, help="The endpoint is on a private network (e.g. HSCN).")
def set_practice(
    ods: str,
    supplier: str,
    endpoint: str,
    credentials_ref: str,
    mesh_mailbox: str,
    bars_endpoint: str,
    allow_private: bool,
) -> None:
    """Add or change a practice's GP system (the only way: the API cannot set endpoints or credentials)."""
    try:
        config = PracticeConfig(
            ods.upper(),
            supplier,
            endpoint,
            credentials_ref,
            mesh_mailbox.upper(),
            bars_endpoint,
            allow_private,
        )
    except InvalidPracticeConfig as exc:
        raise click.ClickException(str(exc)) from None
    with _engine() as engine, engine.begin() as conn:
        repository.upsert_practice(conn, config)
    click.echo(f"{config.ods}: {config.supplier} at {config.endpoint}")


@practices.command("remove")
@click.argument("ods")
def remove_practice(ods: str) -> None:
    with _engine() as engine, engine.begin() as conn:
        if not repository.delete_practice(conn, ods.upper()):
            raise click.ClickException(f"{ods.upper()} is not configured")
    click.echo(f"{ods.upper()} removed")


@gp.command()
@click.option("--state", type=click.Choice(["pending", "awaiting-decision", "done", "dead"]), default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def deliveries(state: str | None, limit: int, as_json: bool) -> None:
    """Recent deliveries to GP systems and MESH (newest first), with counts by state."""
    with _engine() as engine, engine.connect() as conn:
        counts = repository.delivery_counts(conn)
        rows = repository.list_deliveries(conn, state=state, limit=limit)
    if as_json:
        click.echo(
            json.dumps({"counts": counts, "deliveries": [r.__dict__ for r in rows]}, default=str, indent=2)
        )
        return
    click.echo("  ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no deliveries")
    for r in rows:
        error = (r.last_error or "")[:60]
        where = f"{r.id:>6} {r.practice:<8} {r.kind:<14} {r.state:<18}"
        click.echo(f"{where} attempts={r.attempts:<3} {r.remote_ref or '-'} {error}")
