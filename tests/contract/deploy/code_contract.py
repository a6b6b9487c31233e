"""What the deployment files may name: the CLI's commands and the variables our code reads.

Shared by the compose and Kubernetes checks, so neither can drift from the code.
"""

from __future__ import annotations

from pathlib import Path

import click
from opentelemetry.sdk import environment_variables as otel_variables
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from painreview.cli import main
from painreview.registry import SERVICES
from painreview.simulator import SimulatorSettings
from painreview.simulator_app import SIMULATOR_CREDENTIALS_REF
from services.gpconnect.delivery.credentials import SECRET_ENV_PREFIX
from shared.auth.settings import AuthSettings

__all__ = [
    "AUTH_VARIABLES",
    "CLI_SOURCE",
    "CLI_VARIABLES",
    "ENTRYPOINT",
    "KNOWN_VARIABLES",
    "ROOT",
    "SERVICE_VARIABLES",
    "resolve",
    "settings_variables",
]

ROOT = Path(__file__).resolve().parents[3]
ENTRYPOINT = "pain-review"
CLI_SOURCE = (ROOT / "painreview" / "cli.py").read_text(encoding="utf-8")
CLI_VARIABLES = {"PAINREVIEW_PORT", "PAINREVIEW_HOST", "PAINREVIEW_LOG_LEVEL", "PAINREVIEW_VAR_DIR"}
OTEL_VARIABLES = {value for name, value in vars(otel_variables).items() if name.startswith("OTEL_")}


def settings_variables(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a pydantic-settings class reads."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, info in settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


SERVICE_VARIABLES = {name: settings_variables(entry.settings) for name, entry in SERVICES.items()}
AUTH_VARIABLES = settings_variables(AuthSettings)
SIMULATOR_VARIABLES = settings_variables(SimulatorSettings)
# gpconnect's secret store: GPCONNECT_SECRET_<REF> for the references practices are registered with.
SECRET_VARIABLES = {f"{SECRET_ENV_PREFIX}{SIMULATOR_CREDENTIALS_REF}"}
KNOWN_VARIABLES = set().union(
    *SERVICE_VARIABLES.values(),
    AUTH_VARIABLES,
    CLI_VARIABLES,
    OTEL_VARIABLES,
    SIMULATOR_VARIABLES,
    SECRET_VARIABLES,
)


def resolve(args: tuple[str, ...]) -> click.Command:
    """Resolve ``pain-review <args>`` through the click tree; raise ``click.UsageError`` if it is not
    a command our CLI accepts (unknown subcommand, bad choice, missing argument)."""
    command: click.Command = main
    context = main.make_context(ENTRYPOINT, list(args), resilient_parsing=False)
    rest = list(args)
    while isinstance(command, click.Group):
        name, sub, rest = command.resolve_command(context, rest)
        assert name is not None and sub is not None
        context = sub.make_context(name, list(rest), parent=context)
        command = sub
    return command
