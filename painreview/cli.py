"""``pain-review``: run, serve, migrate, manage clients and tokens, inspect events."""

from __future__ import annotations

import importlib.util
import os
import signal
from pathlib import Path
from types import FrameType

import click

from painreview.auth_cli import clients, token
from painreview.demo import demo
from painreview.events_cli import events
from painreview.gp_cli import gp
from painreview.registry import SERVICES
from painreview.sim_cli import simulator
from shared.auth.settings import AuthSettings
from shared.db import make_engine, migrate
from shared.observability import configure_logging
from shared.web.process import freeze_startup_objects

SERVICE_NAMES = sorted(SERVICES)


@click.group()
@click.version_option("0.1.0", prog_name="pain-review")
def main() -> None:
    """Pain and opioid review service: FHIR R4 backend for GP practices."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--var-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PAINREVIEW_VAR_DIR",
    default=Path("var"),
    show_default=True,
    help="Where the embedded SQLite databases and the issuer key live.",
)
@click.option(
    "--mesh-port", default=8700, show_default=True, type=int, help="Port of the local mesh-sandbox."
)
@click.option("--mesh/--no-mesh", default=True, show_default=True, help="Start NHS England's mesh-sandbox.")
def up(host: str, port: int, var_dir: Path, mesh_port: int, mesh: bool) -> None:
    """Every service in one process on one port (SQLite, in-process events), with the GP practice
    simulator mounted at /gp-simulator and NHS England's mesh-sandbox as a child process."""
    import uvicorn

    from painreview.embedded import create_embedded_system
    from painreview.mesh_sandbox import MeshPortTaken, MeshSandbox
    from painreview.simulator_app import simulator_url

    configure_logging(os.environ.get("PAINREVIEW_LOG_LEVEL", "INFO"), service="embedded")
    os.environ.setdefault("GPCONNECT_SIMULATOR_URL", simulator_url(host, port))
    # A MESH URL given in the environment means someone else runs the mailbox server.
    start_sandbox = mesh and not os.environ.get("GPCONNECT_MESH_URL")
    if start_sandbox and importlib.util.find_spec("mesh_sandbox") is None:
        click.echo("mesh-sandbox is not installed (a development dependency): documents will wait for MESH")
        start_sandbox = False
    sandbox = MeshSandbox(var_dir / "mesh", host="127.0.0.1", port=mesh_port) if start_sandbox else None
    if sandbox is not None:
        os.environ["GPCONNECT_MESH_URL"] = sandbox.url
        orphan = sandbox.stop_orphan()
        if orphan is not None:
            click.echo(f"stopped the mesh-sandbox (pid {orphan}) an earlier `up` on {var_dir} left running")
        try:
            sandbox.start()
        except MeshPortTaken as exc:
            raise click.ClickException(str(exc)) from None
        except (RuntimeError, TimeoutError) as exc:
            raise click.ClickException(f"{exc}; or run without it: pain-review up --no-mesh") from None
    try:
        base = f"http://{host}:{port}"
        if not os.environ.get("PAINREVIEW_AUTH_ISSUER"):  # discovery and tokens name the real address
            advertised = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
            AuthSettings(var_dir=var_dir).advertise(f"http://{advertised}:{port}")
        system = create_embedded_system(var_dir, with_simulator=True)
        click.echo(f"pain-review is starting on {base} (data in {var_dir.resolve()})")
        for name in system.services:
            click.echo(f"  {name:<12} {base}/{name}/fhir   (metadata: {base}/{name}/fhir/metadata)")
        click.echo(f"  {'simulator':<12} {base}/gp-simulator   (GP practice; token: var/gp-simulator.token)")
        if sandbox is not None:
            click.echo(f"  {'mesh':<12} {sandbox.url}   (mesh-sandbox)")
        click.echo(
            f"  {'token':<12} {base}/auth/token  (pain-review token --practice A81001 --scope 'system/*.rs')"
        )
        click.echo(f"  then try:     pain-review demo --url {base}")
        # uvicorn shuts down gracefully on SIGTERM and then raises the signal again: with the default
        # handler the process would die there, before this function's cleanup, leaving mesh-sandbox behind.
        signal.signal(signal.SIGTERM, _exit_after_shutdown)
        freeze_startup_objects()
        uvicorn.run(system.app, host=host, port=port, log_config=None, proxy_headers=False)
    finally:
        if sandbox is not None:
            sandbox.stop()


def _exit_after_shutdown(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # as a shell reports a process ended by the signal


@main.command()
@click.argument("service", type=click.Choice([*SERVICE_NAMES, "auth", "gp-simulator"]))
@click.option("--host", default=lambda: os.environ.get("PAINREVIEW_HOST", "0.0.0.0"), show_default="0.0.0.0")  # noqa: S104
@click.option(
    "--port", default=lambda: int(os.environ.get("PAINREVIEW_PORT", "8000")), type=int, show_default="8000"
)
def serve(service: str, host: str, port: int) -> None:
    """One service alone, configured from the environment (production mode)."""
    import uvicorn

    from painreview.standalone import create_auth_app, create_service_app

    configure_logging(os.environ.get("PAINREVIEW_LOG_LEVEL", "INFO"), service=service)
    if service == "auth":
        app = create_auth_app()
    elif service == "gp-simulator":
        from painreview.simulator_app import standalone_simulator_app

        app = standalone_simulator_app()
    else:
        app = create_service_app(service)
    freeze_startup_objects()
    uvicorn.run(app, host=host, port=port, log_config=None, timeout_graceful_shutdown=20)


@main.command("migrate")
@click.argument("service", required=False, type=click.Choice(SERVICE_NAMES))
def migrate_command(service: str | None) -> None:
    """Run database migrations for one service, or all (each to its own database)."""
    for name in [service] if service else SERVICE_NAMES:
        entry = SERVICES[name]
        settings = entry.load_settings()
        engine = make_engine(settings.resolved_database_url())
        try:
            migrate(entry.migrations, engine)
        finally:
            engine.dispose()
        click.echo(f"{name}: migrated to head")


for command in (clients, token, events, gp, simulator, demo):
    main.add_command(command)
