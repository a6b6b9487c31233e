"""docker-compose.yml as data: what each of our processes runs and with which environment.

The e2e tier runs the production-shaped stack without containers from the same declarations::

    from tests.support.compose import app_processes

    for process in app_processes().values():        # migrate, auth, referral, ... in start order
        subprocess.Popen([".venv/bin/pain-review", *process.args], env={**os.environ, **process.environment})

Hosts that are compose services (``postgres``, ``nats``, ``auth``, ...) are rewritten to ``127.0.0.1``
(every URL in the compose file names its port, and each service has its own port), and
``${VAR:-default}`` is interpolated as ``docker compose`` does. ``ports`` moves compose's ports to
others (e.g. free ones) in ``PAINREVIEW_PORT`` and in every loopback URL that names them, so the
processes still find each other. ``overrides`` replaces variables afterwards, e.g. the test database URLs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "COMPOSE_FILE",
    "PENDING_COMMANDS",
    "ComposeProcess",
    "app_processes",
    "interpolate",
    "load_compose",
]

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
# Commands the compose file declares before the CLI has them (each names the issue that adds it).
PENDING_COMMANDS: dict[tuple[str, ...], str] = {}

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$\$")


@dataclass(frozen=True)
class ComposeProcess:
    """One of our processes: ``pain-review <args>`` with ``environment``, listening on ``port``."""

    name: str
    args: tuple[str, ...]
    environment: dict[str, str]
    port: int | None
    depends_on: tuple[str, ...] = ()
    profiles: tuple[str, ...] = field(default=())

    @property
    def pending(self) -> str | None:
        """Why this command does not exist yet, if it does not."""
        return PENDING_COMMANDS.get(self.args)


def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}`` and ``$$``, as compose."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        value = environ.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op in (":?", "?") and not value:
            raise ValueError(f"compose variable {name} is required: {arg}")
        return value or ""

    return _VARIABLE.sub(replace, text)


def _interpolate_all(node: Any, environ: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, environ)
    if isinstance(node, list):
        return [_interpolate_all(item, environ) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_all(value, environ) for key, value in node.items()}
    return node


def load_compose(path: Path = COMPOSE_FILE, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose document with anchors merged and variables interpolated."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    env = os.environ if environ is None else environ
    result: dict[str, Any] = _interpolate_all(document, env)
    return result


def _environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):  # ["KEY=value", ...]
        raw = dict(item.split("=", 1) for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def _rewrite_hosts(value: str, hosts: set[str], target: str) -> str:
    for host in hosts:
        value = re.sub(rf"(?<=[/@,]){re.escape(host)}(?=:\d)", target, value)
    return value


def _move_ports(name: str, value: str, ports: Mapping[int, int], host: str) -> str:
    if not ports:
        return value
    if name == "PAINREVIEW_PORT" and value.strip().isdigit():
        return str(ports.get(int(value), value))
    hosts = "|".join(re.escape(h) for h in {host, "localhost", "127.0.0.1"})

    def replace(match: re.Match[str]) -> str:
        port = int(match.group("port"))
        return f"{match.group('host')}:{ports.get(port, port)}"

    return re.sub(rf"(?<=[/@,])(?P<host>{hosts}):(?P<port>\d+)(?!\d)", replace, value)


def _is_ours(service: dict[str, Any]) -> bool:
    build = service.get("build")
    return isinstance(build, dict) and build.get("target") == "runtime"


def _start_order(services: dict[str, ComposeProcess]) -> list[str]:
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered or name not in services:
            return
        if name in path:
            raise ValueError(f"depends_on cycle: {' -> '.join((*path, name))}")
        for dependency in services[name].depends_on:
            visit(dependency, (*path, name))
        ordered.append(name)

    for name in services:
        visit(name, ())
    return ordered


def app_processes(
    path: Path = COMPOSE_FILE,
    *,
    host: str = "127.0.0.1",
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    include_pending: bool = False,
    ports: Mapping[int, int] | None = None,
) -> dict[str, ComposeProcess]:
    """Every ``pain-review`` process of the compose file, in an order that respects ``depends_on``.

    ``ports``: compose port -> port to use instead, in ``PAINREVIEW_PORT`` and in every URL on ``host``
    or ``localhost`` (issuer, JWKS, audiences, simulator, MESH), e.g. ``{8000: 50123, 8700: 50124}``.
    ``overrides``: per process name, variables to set after the rewrite. Commands not implemented yet
    (:data:`PENDING_COMMANDS`) are left out unless ``include_pending``.
    """
    document = load_compose(path, environ)
    services: dict[str, dict[str, Any]] = document["services"]
    hosts = set(services)
    found: dict[str, ComposeProcess] = {}
    for name, service in services.items():
        if not _is_ours(service):
            continue
        environment = {k: _rewrite_hosts(v, hosts, host) for k, v in _environment(service).items()}
        environment = {k: _move_ports(k, v, ports or {}, host) for k, v in environment.items()}
        environment.update((overrides or {}).get(name, {}))
        port = environment.get("PAINREVIEW_PORT")
        process = ComposeProcess(
            name=name,
            args=tuple(str(arg) for arg in service.get("command", ())),
            environment=environment,
            port=int(port) if port else None,
            depends_on=tuple(service.get("depends_on") or ()),
            profiles=tuple(service.get("profiles") or ()),
        )
        if process.pending and not include_pending:
            continue
        found[name] = process
    return {name: found[name] for name in _start_order(found)}
