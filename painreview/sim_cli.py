"""``pain-review simulator``: the GP practice simulator, alone, and its approval inbox from the shell."""

from __future__ import annotations

import json
import os

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
def inbox(url: str, practice: str) -> None:
    """Tasks awaiting the GP's decision."""
    tasks = httpx.get(f"{url}/practices/{practice}/inbox", timeout=10).raise_for_status().json()
    if not tasks:
        click.echo("the inbox is empty")
    for task in tasks:
        click.echo(f"{task['id']}  {task['type']:<20} {task['subject']}  ({task['body'][:60]})")


@simulator.command()
@_url
@_practice
@click.argument("task_id")
@click.option("--reason", default=None)
def approve(url: str, practice: str, task_id: str, reason: str | None) -> None:
    """Approve a task as the GP."""
    answer = httpx.post(
        f"{url}/practices/{practice}/inbox/{task_id}/approve", json={"reason": reason}, timeout=10
    )
    click.echo(json.dumps(answer.raise_for_status().json(), indent=2))


@simulator.command()
@_url
@_practice
@click.argument("task_id")
@click.option("--reason", required=True)
def decline(url: str, practice: str, task_id: str, reason: str) -> None:
    """Decline a task as the GP, with a reason."""
    answer = httpx.post(
        f"{url}/practices/{practice}/inbox/{task_id}/decline", json={"reason": reason}, timeout=10
    )
    click.echo(json.dumps(answer.raise_for_status().json(), indent=2))


@simulator.command()
@_url
@click.option("--error-rate", default=0.0, type=float)
@click.option("--timeout-rate", default=0.0, type=float)
@click.option("--slow-rate", default=0.0, type=float)
@click.option("--timeout-s", default=10.0, type=float)
@click.option("--slow-s", default=1.0, type=float)
def faults(
    url: str, error_rate: float, timeout_rate: float, slow_rate: float, timeout_s: float, slow_s: float
) -> None:
    """Make the simulated GP systems fail (all zero: behave)."""
    body = {
        "error_rate": error_rate,
        "timeout_rate": timeout_rate,
        "slow_rate": slow_rate,
        "timeout_s": timeout_s,
        "slow_s": slow_s,
    }
    click.echo(json.dumps(httpx.put(f"{url}/admin/faults", json=body, timeout=10).raise_for_status().json()))
