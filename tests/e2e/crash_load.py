"""A load of BaRS referrals sent the way a careful sender sends them, and the ledger of what was answered.

A sender that gets no answer (connection refused or reset, a timeout, a 5xx, or a 401 from a service that
has just restarted) sends the same message again with the same ``X-Request-Id`` until it is answered
2xx (stored now) or 409 duplicate (stored before: its answer was lost; the 409 carries the ``Location``).
After recovery :func:`recovered` reads the databases: every acknowledged referral stored once, and each
consumer's effects (careplan's facts, gpconnect's BaRS response delivery) present once per referral.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from tests.support import eventually
from tests.support.bars import eligible_referral, header

ENDPOINT = "https://fhir.nhs.uk/Id/dos-service-id|2000099999"  # referral's default BaRS endpoint
FHIR = "application/fhir+json"
URI_SYSTEM = "urn:ietf:rfc:3986"  # the sender's fullUrl, kept as an identifier of the stored referral
DEADLINE_S = 300.0  # per message: generous, a restart on a busy host takes tens of seconds
FIGURES: list[str] = []  # printed in the session's terminal summary (tests/e2e/conftest.py)


@dataclass
class Ledger:
    """What the senders saw, by BaRS message id."""

    sent: int = 0
    acknowledged: dict[str, str] = field(default_factory=dict)  # 2xx: message id -> Location
    answered_duplicate: dict[str, str] = field(default_factory=dict)  # 409 after a lost answer -> Location
    unanswered: set[str] = field(default_factory=set)  # got no answer at least once, then were resent
    refused: list[str] = field(default_factory=list)  # any other answer: a failure of the test
    focus_urls: dict[str, str] = field(default_factory=dict)  # message id -> its ServiceRequest fullUrl
    request_ids: dict[str, str] = field(default_factory=dict)  # message id -> its X-Request-Id
    last_answer_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def answered(self) -> int:
        return len(self.acknowledged) + len(self.answered_duplicate)


def referrals(count: int, first_serial: int) -> list[dict[str, Any]]:
    """``count`` BaRS messages, each referring another eligible patient (NHS numbers in the 999 range)."""
    return [eligible_referral(ENDPOINT, serial=first_serial + n) for n in range(count)]


def send(client: httpx.Client, url: str, message: dict[str, Any], ledger: Ledger) -> None:
    """Send one message until it is answered; the same ``X-Request-Id`` on every try."""
    request_id, message_id = str(uuid.uuid4()), str(message["id"])
    with ledger.lock:
        ledger.sent += 1
        ledger.focus_urls[message_id] = header(message)["focus"][0]["reference"]
        ledger.request_ids[message_id] = request_id
    body = orjson.dumps(message)
    headers = {"Content-Type": FHIR, "Accept": FHIR, "X-Request-Id": request_id}
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            answer = client.post(url, content=body, headers=headers)
        except httpx.TransportError:
            answer = None
        if answer is not None and answer.status_code in (200, 201):
            with ledger.lock:
                ledger.acknowledged[message_id] = answer.headers["Location"]
                ledger.last_answer_at = time.monotonic()
            return
        if answer is not None and answer.status_code == 409 and _issue_code(answer) == "duplicate":
            with ledger.lock:
                ledger.answered_duplicate[message_id] = answer.headers.get("Location", "")
                ledger.last_answer_at = time.monotonic()
            return
        if answer is not None and answer.status_code < 500 and answer.status_code not in (401, 429):
            with ledger.lock:
                ledger.refused.append(f"{answer.status_code} {answer.text[:300]}")
            return
        with ledger.lock:
            ledger.unanswered.add(message_id)
        time.sleep(0.2)
    with ledger.lock:
        ledger.refused.append(f"no answer within {DEADLINE_S:.0f} s")


def _issue_code(answer: httpx.Response) -> str | None:
    try:
        return str(answer.json()["issue"][0]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


class Senders:
    """``workers`` threads sending ``messages`` to ``url`` side by side; always joined by :meth:`join`."""

    def __init__(self, url: str, token: str, messages: list[dict[str, Any]], workers: int = 4) -> None:
        self.ledger = Ledger()
        self._url, self._token = url, token
        self._queue = list(reversed(messages))
        self._queue_lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, name=f"sender-{n}") for n in range(workers)]

    def start(self) -> Senders:
        for thread in self._threads:
            thread.start()
        return self

    def _work(self) -> None:
        auth = {"Authorization": f"Bearer {self._token}"}
        with httpx.Client(headers=auth, timeout=30) as client:
            while True:
                with self._queue_lock:
                    if not self._queue:
                        return
                    message = self._queue.pop()
                send(client, self._url, message, self.ledger)

    def wait_answered(self, count: int, deadline_s: float = DEADLINE_S) -> None:
        eventually(
            lambda: self.ledger.answered >= count,
            within=deadline_s,
            every=0.2,
            what=f"{count} referrals answered",
        )

    def join(self, deadline_s: float = 2 * DEADLINE_S) -> None:
        deadline = time.monotonic() + deadline_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"senders still running after {deadline_s:.0f} s: {alive}"


@dataclass(frozen=True)
class Stored:
    """What the databases hold after recovery."""

    referrals: dict[str, list[str]]  # sender's fullUrl -> ids of the ServiceRequests stored for it
    facts: dict[str, list[str]]  # careplan fact kind -> subjects (ServiceRequest/<id>), a row each
    deliveries: int  # gpconnect's BaRS response deliveries
    delivery_events: int  # distinct events they came from


def stored(referral_url: str, careplan_url: str, gpconnect_url: str) -> Stored:
    by_url: dict[str, list[str]] = {}
    with _engine(referral_url) as engine, engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, content FROM fhir_resource WHERE resource_type = 'ServiceRequest'")
        ).all()
    for row in rows:
        for identifier in orjson.loads(row.content).get("identifier", []):
            if identifier.get("system") == URI_SYSTEM:
                by_url.setdefault(identifier["value"], []).append(row.id)
    facts: dict[str, list[str]] = {}
    with _engine(careplan_url) as engine, engine.connect() as conn:
        for kind, subject in conn.execute(
            sa.text("SELECT kind, subject FROM careplan_evaluation_fact WHERE kind LIKE 'referral-%'")
        ):
            facts.setdefault(kind, []).append(subject)
    with _engine(gpconnect_url) as engine, engine.connect() as conn:
        deliveries, events = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT event_id) FROM gp_delivery WHERE kind = 'bars-response'")
        ).one()
    return Stored(by_url, facts, int(deliveries), int(events))


class _engine:
    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))

    def __enter__(self) -> sa.Engine:
        return self.engine

    def __exit__(self, *_: object) -> None:
        self.engine.dispose()


def caught_up(ledger: Ledger, now: Stored) -> bool:
    """Every answered referral stored, and each one's effects present in careplan and gpconnect."""
    answered = {ledger.focus_urls[m] for m in (*ledger.acknowledged, *ledger.answered_duplicate)}
    if not answered <= set(now.referrals):
        return False
    ids = {f"ServiceRequest/{i}" for url in answered for i in now.referrals[url]}
    decided = set(now.facts.get("referral-accepted", [])) | set(now.facts.get("referral-rejected", []))
    return (
        ids <= set(now.facts.get("referral-received", [])) and ids <= decided and now.deliveries >= len(ids)
    )


def check_and_report(mode: str, ledger: Ledger, now: Stored, catch_up_s: float, faults: str) -> str:
    """Assert nothing acknowledged was lost and nothing doubled; the figures line for the summary."""
    assert not ledger.refused, f"answers other than 2xx/409 duplicate: {ledger.refused[:5]}"
    assert ledger.answered == ledger.sent, "every message was answered in the end"
    answered = {ledger.focus_urls[m] for m in (*ledger.acknowledged, *ledger.answered_duplicate)}
    missing = answered - set(now.referrals)
    assert not missing, f"{len(missing)} answered referrals are not stored"
    doubled = {url: ids for url, ids in now.referrals.items() if len(ids) > 1}
    assert not doubled, f"referrals stored more than once: {list(doubled.items())[:3]}"
    for message_id, location in ledger.acknowledged.items():  # the 2xx Location is the stored referral
        assert location.rsplit("/", 1)[-1] in now.referrals[ledger.focus_urls[message_id]]
    for message_id, location in ledger.answered_duplicate.items():
        assert location.rsplit("/", 1)[-1] in now.referrals[ledger.focus_urls[message_id]]
    ids = sorted(i for url in answered for i in now.referrals[url])
    received = now.facts.get("referral-received", [])
    decided = now.facts.get("referral-accepted", []) + now.facts.get("referral-rejected", [])
    assert sorted(received) == sorted(f"ServiceRequest/{i}" for i in ids), "referral.received effects"
    assert sorted(decided) == sorted(f"ServiceRequest/{i}" for i in ids), "referral decided effects"
    assert now.deliveries == now.delivery_events == len(ids), "one BaRS response delivery each"
    effects = len(received) + len(decided) + now.deliveries
    duplicates = (
        sum(len(v) - 1 for v in now.referrals.values())
        + (len(received) - len(set(received)))
        + (len(decided) - len(set(decided)))
        + (now.deliveries - now.delivery_events)
    )
    line = (
        f"crash test, {mode} ({faults}): sent {ledger.sent}, acknowledged 2xx {len(ledger.acknowledged)}, "
        f"answer lost and resent (same X-Request-Id) {len(ledger.unanswered)}, of which answered 409 "
        f"with Location {len(ledger.answered_duplicate)}; stored after recovery {len(ids)}; effects "
        f"{effects} (careplan {len(received) + len(decided)}, gpconnect {now.deliveries}; expected "
        f"{3 * len(ids)}); duplicates {duplicates}; caught up {catch_up_s:.1f} s after the last answer"
    )
    FIGURES.append(line)
    print(line)
    return line
