"""``pain-review simulator``: the GP practice simulator, alone, and its approval inbox from the shell."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import httpx

__all__ = ["simulator"]

_url = click.option(
    "--url",
    default=lambda: os.environ.get("GPSIM_URL", "http://127.0.0.1:8000/gp-simulator"),
    show_default="http://127.0.0.1:8000/gp-simulator",
    help="The running simulator (GPSIM_URL).",
)
_practice = click.option("--practice", default="A81001", show_default=True, help="ODS code.")
_token = click.option(
    "--token",
    envvar="GPSIM_TOKEN",
    default=lambda: _kept_token(),
    show_default="var/gp-simulator.token",
    help="The simulator's own token (GPSIM_TOKEN, or what `pain-review up` keeps in var/).",
)


def _kept_token() -> str:
    from painreview.simulator_app import TOKEN_FILE

    path = Path(os.environ.get("PAINREVIEW_VAR_DIR", "var")) / TOKEN_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@click.group()
def simulator() -> None:
    """The GP practice simulator: serve it, act as the GP in its approval inbox, inject faults."""


@simulator.command()
@click.option(
    "--host", default=lambda: os.environ.get("PAINREVIEW_HOST", "127.0.0.1"), show_default="127.0.0.1"
)
@click.option(
    "--port", default=lambda: int(os.environ.get("PAINREVIEW_PORT", "8005")), type=int, show_default="8005"
)
def serve(host: str, port: int) -> None:
    """Serve the simulator alone (GPSIM_PRACTICES, GPSIM_PATIENTS_PER_PRACTICE, GPSIM_SEED)."""
    import uvicorn

    from painreview.simulator_app import standalone_simulator_app

    uvicorn.run(standalone_simulator_app(), host=host, port=port, log_config=None)


@simulator.command()
@_url
@_practice
@_token
def inbox(url: str, practice: str, token: str) -> None:
    """Tasks awaiting the GP's decision."""
    answer = httpx.get(f"{url}/practices/{practice}/inbox", headers=_auth(token), timeout=10)
    tasks = answer.raise_for_status().json()
    if not tasks:
        click.echo("the inbox is empty")
    for task in tasks:
        click.echo(f"{task['id']}  {task['type']:<20} {task['subject']}  ({task['body'][:60]})")


@simulator.command()
@_url
@_practice
@click.argument("task_id")
@click.option("--reason", default=None)
@_token
def approve(url: str, practice: str, task_id: str, reason: str | None, token: str) -> None:
    """Approve a task as the GP."""
    answer = httpx.post(
        f"{url}/practices/{practice}/inbox/{task_id}/approve",
        json={"reason": reason},
        headers=_auth(token),
        timeout=10,
    )
    click.echo(json.dumps(answer.raise_for_status().json(), indent=2))


@simulator.command()
@_url
@_practice
@click.argument("task_id")
@click.option("--reason", required=True)
@_token
def decline(url: str, practice: str, task_id: str, reason: str, token: str) -> None:
    """Decline a task as the GP, with a reason."""
    answer = httpx.post(
        f"{url}/practices/{practice}/inbox/{task_id}/decline",
        json={"reason": reason},
        headers=_auth(token),
        timeout=10,
    )
    click.echo(json.dumps(answer.raise_for_status().json(), indent=2))


@simulator.command()
@_url
@click.option("--error-rate", default=0.0, type=float)
@click.option("--timeout-rate", default=0.0, type=float)
@click.option("--slow-rate", default=0.0, type=float)
@click.option("--timeout-s", default=10.0, type=float)
@click.option("--slow-s", default=1.0, type=float)
@_token
def faults(
    url: str,
    error_rate: float,
    timeout_rate: float,
    slow_rate: float,
    timeout_s: float,
    slow_s: float,
    token: str,
) -> None:
    """Make the simulated GP systems fail (all zero: behave)."""
    body = {
        "error_rate": error_rate,
        "timeout_rate": timeout_rate,
        "slow_rate": slow_rate,
        "timeout_s": timeout_s,
        "slow_s": slow_s,
    }
    answer = httpx.put(f"{url}/admin/faults", json=body, headers=_auth(token), timeout=10)
    click.echo(json.dumps(answer.raise_for_status().json()))
