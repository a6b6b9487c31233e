"""The outbox's and the inbox's statements give the same results on PostgreSQL (COPY, ``= ANY`` and
``unnest`` for batches) and on SQLite (multi-row INSERT and IN lists)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from shared.bus import Backoff
from shared.contracts import REFERRAL_ACCEPTED_V1, CloudEvent, new_event, to_json
from shared.db import make_engine
from shared.outbox import metadata, record_events
from shared.outbox.apply import record_in_inbox
from shared.outbox.relay_store import OutboxRow, PublishResult, mark
from shared.outbox.tables import as_utc, inbox, outbox, utcnow

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/s.db"
    engine = make_engine(url, pool_size=1)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _event(n: int) -> CloudEvent:
    return new_event(
        REFERRAL_ACCEPTED_V1,
        source="/painreview/referral",
        subject=f"ServiceRequest/{n % 2}",
        practice="A81001",
        data={"resourceType": "ServiceRequest", "id": str(n % 2), "status": "active"},
    )


def _outbox(engine: Engine) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(outbox).order_by(outbox.c.sequence)))


@pytest.mark.parametrize("count", [1, 3, 700])
def test_recorded_events_keep_their_order_and_fields(engine: Engine, count: int) -> None:
    events = [_event(n) for n in range(count)]
    before = utcnow()
    with engine.begin() as conn:
        record_events(conn, events)
    rows = _outbox(engine)
    assert [r.event_id for r in rows] == [e.id for e in events]
    assert [r.payload for r in rows] == [to_json(e).decode() for e in events]
    assert [(r.type, r.subject, r.practice) for r in rows] == [
        (e.type, e.subject, e.practice) for e in events
    ]
    assert {(r.attempts, r.published_at, r.next_attempt_at) for r in rows} == {(0, None, None)}
    created = as_utc(rows[0].created_at)
    assert created is not None and before - timedelta(seconds=1) <= created <= utcnow()
    assert [r.sequence for r in rows] == sorted({r.sequence for r in rows})


def test_events_of_a_rolled_back_transaction_are_not_recorded(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        record_events(conn, [_event(n) for n in range(5)])
        raise RuntimeError("the producer's own change failed")
    assert _outbox(engine) == []


def test_mark_publishes_the_confirmed_and_reschedules_the_failed(engine: Engine) -> None:
    with engine.begin() as conn:
        record_events(conn, [_event(n) for n in range(6)])
    rows = [
        OutboxRow(r.sequence, r.type, r.payload, r.attempts, r.event_id, r.practice) for r in _outbox(engine)
    ]
    results = [PublishResult(row, "TimeoutError" if i == 4 else None) for i, row in enumerate(rows[:5])]
    mark(engine, results, Backoff(initial=10.0, maximum=60.0))
    after = _outbox(engine)
    published = [r.sequence for r in after if r.published_at is not None]
    assert published == [rows[i].sequence for i in (0, 1, 2, 3)]
    failed, untouched = after[4], after[5]
    assert (failed.published_at, failed.attempts, failed.last_error) == (None, 1, "TimeoutError")
    assert as_utc(failed.next_attempt_at) > utcnow()  # type: ignore[operator]
    assert (untouched.published_at, untouched.attempts, untouched.next_attempt_at) == (None, 0, None)
    assert {r.attempts for r in after[:4]} == {1}


def test_the_inbox_reports_only_events_not_seen_before(engine: Engine) -> None:
    with engine.begin() as conn:
        assert record_in_inbox(conn, "careplan", ["a"]) == {"a"}
    with engine.begin() as conn:
        assert record_in_inbox(conn, "careplan", ["b", "a", "c", "b"]) == {"b", "c"}
        assert record_in_inbox(conn, "medreview", ["a", "b"]) == {"a", "b"}  # another consumer's inbox
    with engine.begin() as conn:
        assert record_in_inbox(conn, "careplan", ["a", "b", "c"]) == set()
        assert record_in_inbox(conn, "careplan", []) == set()
    with pytest.raises(RuntimeError), engine.begin() as conn:
        record_in_inbox(conn, "careplan", ["d", "e"])
        raise RuntimeError("the handler failed: the inbox rows go with the effect")
    with engine.connect() as conn:
        recorded = sorted(tuple(r) for r in conn.execute(sa.select(inbox.c.consumer, inbox.c.event_id)))
    assert recorded == [
        ("careplan", "a"),
        ("careplan", "b"),
        ("careplan", "c"),
        ("medreview", "a"),
        ("medreview", "b"),
    ]
