"""``pain-review events``: outbox lag, dead letters, replay. Thin: the work is in shared.outbox.admin."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from shared.bus import NatsSettings
from shared.db import make_engine
from shared.outbox.admin import (
    DeadLetterInfo,
    dead_letter_info,
    dead_letters,
    jetstream_admin,
    nats_dead_letters,
    outbox_lag,
    parse_databases,
    replay_nats_dead_letter,
    request_replay,
)

__all__ = ["events"]

SERVICES = ("referral", "careplan", "medreview", "gpconnect")


def _databases() -> dict[str, str]:
    spec = os.environ.get("PAINREVIEW_EVENTS_DATABASES", "").strip()
    if spec:
        return parse_databases(spec)
    var_dir = Path(os.environ.get("PAINREVIEW_VAR_DIR", "var"))
    found: dict[str, str] = {}
    for name in SERVICES:
        url = os.environ.get(f"{name.upper()}_DATABASE_URL")
        if url:
            found[name] = url
        elif (var_dir / f"{name}.db").exists():
            found[name] = f"sqlite:///{(var_dir / f'{name}.db').resolve()}"
    return found


def _nats() -> NatsSettings | None:
    url = os.environ.get("PAINREVIEW_EVENTS_NATS_URL") or next(
        (os.environ[v] for v in (f"{s.upper()}_NATS_URL" for s in SERVICES) if os.environ.get(v)), None
    )
    return NatsSettings.from_url(url) if url else None


@contextmanager
def _engines() -> Iterator[dict[str, Engine]]:
    engines = {name: make_engine(url, pool_size=1) for name, url in _databases().items()}
    try:
        yield engines
    finally:
        for engine in engines.values():
            engine.dispose()


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    cells = [[str(c) for c in header], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


@click.group()
def events() -> None:
    """Inspect and repair event delivery: outbox lag, dead letters, replay.

    \b
    Where to look (environment):
      PAINREVIEW_EVENTS_DATABASES  name=url pairs, comma-separated, e.g.
                                   referral=postgresql://db/referral,careplan=postgresql://db/careplan
                                   (default: <SERVICE>_DATABASE_URL of referral, careplan, medreview and
                                   gpconnect, else the embedded var/<service>.db files that exist)
      PAINREVIEW_VAR_DIR           the embedded data directory (default ./var)
      PAINREVIEW_EVENTS_NATS_URL   nats://host:4222[?stream=PAINREVIEW&prefix=painreview] for the
                                   JetStream dead letters (default: the first <SERVICE>_NATS_URL; unset
                                   in embedded mode)
    """


@events.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def lag(as_json: bool) -> None:
    """Unpublished outbox events per database, how many are failing, and the oldest one's age."""
    with _engines() as engines:
        lags = [outbox_lag(engine, name) for name, engine in engines.items()]
    if as_json:
        _json([asdict(x) for x in lags])
        return
    if not lags:
        raise click.ClickException("no service databases found (see `pain-review events --help`)")
    _table(
        [
            (
                x.database,
                x.unpublished,
                x.failing,
                None if x.oldest_age_seconds is None else f"{x.oldest_age_seconds:.1f}s",
                x.last_error,
            )
            for x in lags
        ],
        ("database", "unpublished", "failing", "oldest", "last error"),
    )


async def _nats_letters(settings: NatsSettings) -> list[DeadLetterInfo]:
    async with jetstream_admin(settings) as js:
        return await nats_dead_letters(js, settings)


@events.command("dead-letters")
@click.option("--all", "include_replayed", is_flag=True, help="Include dead letters already replayed.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def dead_letters_command(include_replayed: bool, as_json: bool) -> None:
    """Events a consumer gave up on, oldest first; replay one with `pain-review events replay <id>`."""
    with _engines() as engines:
        letters = [
            letter
            for name, engine in engines.items()
            for letter in dead_letters(engine, name, include_replayed=include_replayed)
        ]
    settings = _nats()
    if settings is not None:
        letters += asyncio.run(_nats_letters(settings))
    if as_json:
        _json([asdict(x) for x in letters])
        return
    if not letters:
        click.echo("no dead letters")
        return
    _table(
        [
            (x.id, x.consumer, x.type, x.event_id, x.attempts, x.state, x.dead_lettered_at, x.error[:60])
            for x in letters
        ],
        ("id", "consumer", "type", "event", "attempts", "state", "since", "error"),
    )


async def _replay_nats(settings: NatsSettings, sequence: int) -> str:
    async with jetstream_admin(settings) as js:
        return await replay_nats_dead_letter(js, settings, sequence)


@events.command()
@click.argument("dead_letter_id")
@click.option(
    "--wait", default=10.0, show_default=True, help="Seconds to wait for an embedded consumer's result."
)
def replay(dead_letter_id: str, wait: float) -> None:
    """Deliver a dead letter again (after fixing its cause); the consumer's inbox keeps it to one effect.

    DEAD_LETTER_ID as listed by `dead-letters`: `nats:<sequence>` or `<database>:<row>`.
    """
    where, _, number = dead_letter_id.partition(":")
    if not number.isdigit():
        raise click.BadParameter("expected nats:<sequence> or <database>:<row>", param_hint="DEAD_LETTER_ID")
    if where == "nats":
        settings = _nats()
        if settings is None:
            raise click.ClickException("PAINREVIEW_EVENTS_NATS_URL is not set")
        msg_id = asyncio.run(_replay_nats(settings, int(number)))
        click.echo(f"re-published {dead_letter_id} (Nats-Msg-Id {msg_id})")
        return
    with _engines() as engines:
        engine = engines.get(where)
        if engine is None:
            raise click.ClickException(f"no database named {where!r} (see `pain-review events --help`)")
        if not request_replay(engine, int(number)):
            raise click.ClickException(f"{dead_letter_id}: no such dead letter, or already replayed")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            info = dead_letter_info(engine, where, int(number))
            if info is not None and info.state == "replayed":
                click.echo(f"replayed {dead_letter_id}")
                return
            if info is not None and info.state == "dead":
                raise click.ClickException(f"{dead_letter_id} failed again: {info.error}")
            time.sleep(0.2)
    click.echo(f"replay of {dead_letter_id} requested; the consumer applies it when its service runs")
