"""`pain-review events`: lag, dead letters and replay against embedded (SQLite) service databases."""

from __future__ import annotations

import asyncio
import json

import pytest
from bus_support import accepted, applied, apply_effect, emit
from click.testing import CliRunner

from painreview.events_cli import events
from shared.bus import InProcessTransport
from shared.contracts import to_json
from shared.outbox import Inbox, dead_letter
from shared.outbox.tables import utcnow


@pytest.fixture
def cli(make_db, monkeypatch):
    referral, careplan = make_db("referral"), make_db("careplan")
    monkeypatch.setenv("PAINREVIEW_EVENTS_DATABASES", f"referral={referral.url},careplan={careplan.url}")
    monkeypatch.delenv("PAINREVIEW_EVENTS_NATS_URL", raising=False)
    runner = CliRunner()
    return runner, referral, careplan


def test_lag_shows_unpublished_events_per_database(cli) -> None:
    runner, referral, _ = cli
    emit(referral, [accepted(), accepted("ServiceRequest/2")])
    result = runner.invoke(events, ["lag"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    assert lines["referral"][1] == "2" and lines["careplan"][1] == "0"
    as_json = json.loads(runner.invoke(events, ["lag", "--json"]).output)
    assert {x["database"]: x["unpublished"] for x in as_json} == {"referral": 2, "careplan": 0}


def test_lag_without_any_database_says_where_to_look(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("PAINREVIEW_EVENTS_DATABASES", raising=False)
    monkeypatch.setenv("PAINREVIEW_VAR_DIR", str(tmp_path))
    for name in ("REFERRAL", "CAREPLAN", "MEDREVIEW", "GPCONNECT"):
        monkeypatch.delenv(f"{name}_DATABASE_URL", raising=False)
    result = CliRunner().invoke(events, ["lag"])
    assert result.exit_code != 0 and "events --help" in result.output


def test_a_dead_letter_is_listed_and_replayed_by_the_consumer_once(cli) -> None:
    runner, _, careplan = cli
    event = accepted()
    with careplan.begin() as conn:
        conn.execute(
            dead_letter.insert().values(
                consumer="careplan",
                event_id=event.id,
                type=event.type,
                practice=event.practice,
                payload=to_json(event).decode(),
                error="KeyError: 'dosage'",
                attempts=5,
                dead_lettered_at=utcnow(),
            )
        )
    listed = runner.invoke(events, ["dead-letters"])
    assert listed.exit_code == 0, listed.output
    assert "careplan:1" in listed.output and event.id in listed.output and "KeyError" in listed.output

    requested = runner.invoke(events, ["replay", "careplan:1", "--wait", "0.3"])
    assert requested.exit_code == 0, requested.output
    assert "requested" in requested.output  # no consumer running in this test

    async def consumer_runs() -> int:
        inbox = Inbox(careplan, InProcessTransport())
        await inbox.subscribe("careplan", [event.type], apply_effect)
        return await asyncio.to_thread(inbox.replay_requested)

    assert asyncio.run(consumer_runs()) == 1
    assert applied(careplan) == [(event.id, event.subject)]
    assert runner.invoke(events, ["dead-letters"]).output.strip() == "no dead letters"
    assert "replayed" in runner.invoke(events, ["dead-letters", "--all"]).output
    again = runner.invoke(events, ["replay", "careplan:1"])
    assert again.exit_code != 0 and "already replayed" in again.output


def test_replay_refuses_ids_it_cannot_place(cli) -> None:
    runner, _, _ = cli
    assert runner.invoke(events, ["replay", "nonsense"]).exit_code == 2
    unknown = runner.invoke(events, ["replay", "medreview:3"])
    assert unknown.exit_code != 0 and "no database named" in unknown.output
    nats = runner.invoke(events, ["replay", "nats:3"])
    assert nats.exit_code != 0 and "PAINREVIEW_EVENTS_NATS_URL" in nats.output


def test_the_group_help_documents_its_environment() -> None:
    text = CliRunner().invoke(events, ["--help"]).output
    for variable in ("PAINREVIEW_EVENTS_DATABASES", "PAINREVIEW_EVENTS_NATS_URL", "PAINREVIEW_VAR_DIR"):
        assert variable in text
