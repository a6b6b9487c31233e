"""The evaluation's facts from the store (SQLite): the cohort with discharged and re-referred patients,
a paused taper, readings up to the period's end, sessions, assessments and community spend.

Period 2024-01-01 .. 2024-12-31. Every expected figure is worked out in the comments from what is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from services.careplan.domain.assessment import PHQ9_ITEMS
from services.careplan.domain.catalogue import (
    ACCEPTABILITY_QUESTIONNAIRE,
    ASSESSMENT_QUESTIONNAIRE,
    CAREPLAN_CATEGORY_SYSTEM,
    COMMUNITY_STATUS_EXTENSION,
    COST_EXTENSION,
    INTERVENTION_SYSTEM,
    interventions,
)
from services.careplan.domain.evaluation import Session
from services.careplan.domain.outcomes import Reading
from services.careplan.repository import evaluation_facts, record_fact
from services.careplan.tables import metadata
from shared.core.principal import Tenancy
from shared.db import make_engine
from shared.fhir import ResourceStore, kernel_metadata

A81001 = "A81001"
START, END = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
STORE = ResourceStore()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'evaluation.db'}")
    kernel_metadata.create_all(engine)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def _fact(conn: Connection, kind: str, subject: str, patient: str, day: str, **extra: Any) -> None:
    record_fact(
        conn, practice=A81001, kind=kind, subject=subject, patient=patient, occurred_at=_at(day), **extra
    )


def _plan(patient: str, status: str) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "category": [{"coding": [{"system": CAREPLAN_CATEGORY_SYSTEM, "code": "pain-management"}]}],
        "subject": {"reference": patient},
        "activity": [
            {
                "id": "de-scripting",
                "detail": {"code": interventions()["de-scripting"].concept(), "status": status},
            }
        ],
    }


def _community(patient: str, status: str, progress: str, cost: str, authored: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": status,
        "intent": "order",
        "authoredOn": authored,
        "category": [{"coding": [{"system": CAREPLAN_CATEGORY_SYSTEM, "code": "social-prescribing"}]}],
        "code": interventions()["physiotherapy"].concept(),
        "subject": {"reference": patient},
        "extension": [
            {"url": COST_EXTENSION, "valueMoney": {"value": cost, "currency": "GBP"}},
            {"url": COMMUNITY_STATUS_EXTENSION, "valueCoding": {"code": progress}},
        ],
    }


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        # a: referred, eligible, consented and enrolled in January
        _fact(conn, "referral-received", "ServiceRequest/r-a", "Patient/a", "2024-01-02")
        _fact(conn, "referral-accepted", "ServiceRequest/r-a", "Patient/a", "2024-01-02")
        _fact(conn, "consented", "Consent/c-a", "Patient/a", "2024-01-10")
        _fact(conn, "enrolled", "EpisodeOfCare/ep-a", "Patient/a", "2024-01-15")
        # b: enrolled in 2023, discharged 2023-12-01, re-referred and enrolled again 2024-03-01 (still open)
        _fact(conn, "enrolled", "EpisodeOfCare/ep-b1", "Patient/b", "2023-06-01")
        _fact(conn, "discharged", "EpisodeOfCare/ep-b1", "Patient/b", "2023-12-01")
        _fact(conn, "enrolled", "EpisodeOfCare/ep-b2", "Patient/b", "2024-03-01")
        # c: enrolled 2024-02-01, discharged 2024-09-30
        _fact(conn, "enrolled", "EpisodeOfCare/ep-c", "Patient/c", "2024-02-01")
        _fact(conn, "discharged", "EpisodeOfCare/ep-c", "Patient/c", "2024-09-30")
        # d: enrolled 2024-04-01, discharged 2024-06-01, enrolled again 2024-08-01 (still open)
        _fact(conn, "enrolled", "EpisodeOfCare/ep-d1", "Patient/d", "2024-04-01")
        _fact(conn, "discharged", "EpisodeOfCare/ep-d1", "Patient/d", "2024-06-01")
        _fact(conn, "enrolled", "EpisodeOfCare/ep-d2", "Patient/d", "2024-08-01")
        # e: enrolled after the period
        _fact(conn, "enrolled", "EpisodeOfCare/ep-e", "Patient/e", "2025-02-01")
        # a's reviews: a figure, a lower bound with its reason, and one after the period's end
        _fact(conn, "ome", "Observation/o1", "Patient/a", "2024-01-20", value=Decimal(120))
        _fact(conn, "ome", "Observation/o2", "Patient/a", "2024-07-10", note="lower bound (>=): no-factor")
        _fact(conn, "ome", "Observation/o3", "Patient/a", "2025-01-20", value=Decimal(60))
        # a's taper: approved (in progress), then paused (on hold)
        plan = STORE.create(conn, _plan("Patient/a", "in-progress"), practice=A81001)
        STORE.update(
            conn, {**plan, **_plan("Patient/a", "on-hold")}, tenants=Tenancy({A81001}), practice=A81001
        )
        # c's de-scripting was only ever proposed and then declined (on hold without starting)
        proposed = STORE.create(conn, _plan("Patient/c", "scheduled"), practice=A81001)
        STORE.update(
            conn, {**proposed, **_plan("Patient/c", "on-hold")}, tenants=Tenancy({A81001}), practice=A81001
        )
        # d: a physiotherapy referral started (GBP 50.00) and a revoked one (nothing spent)
        STORE.create(
            conn, _community("Patient/d", "active", "started", "50.00", "2024-05-01"), practice=A81001
        )
        STORE.create(
            conn, _community("Patient/d", "revoked", "waiting", "80.00", "2024-05-02"), practice=A81001
        )
        # sessions of a: one in the period, one before it
        for day in ("2024-02-01", "2023-12-01"):
            encounter = {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": {"reference": "Patient/a"},
                "period": {"start": f"{day}T10:00:00Z"},
            }
            STORE.create(conn, encounter, practice=A81001)
        # a's PHQ-9: each of the nine items answered 1, a total of 9
        response = {
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "questionnaire": ASSESSMENT_QUESTIONNAIRE,
            "subject": {"reference": "Patient/a"},
            "authored": "2024-01-16T10:00:00Z",
            "item": [{"linkId": link, "answer": [{"valueInteger": 1}]} for link in PHQ9_ITEMS],
        }
        STORE.create(conn, response, practice=A81001)
        # a answered the acceptability questionnaire twice in the period (the later one counts), and once
        # after it; c once, before the period
        for patient, authored, score in (
            ("Patient/a", "2024-06-01T10:00:00Z", 2),
            ("Patient/a", "2024-11-01T10:00:00Z", 4),
            ("Patient/a", "2025-01-10T10:00:00Z", 5),
            ("Patient/c", "2023-12-20T10:00:00Z", 3),
        ):
            answered = {
                "resourceType": "QuestionnaireResponse",
                "status": "completed",
                "questionnaire": ACCEPTABILITY_QUESTIONNAIRE,
                "subject": {"reference": patient},
                "authored": authored,
                "item": [{"linkId": "affective-attitude", "answer": [{"valueInteger": score}]}],
            }
            STORE.create(conn, answered, practice=A81001)


def test_the_cohort_counts_re_referred_patients_once_and_retention_follows_their_latest_enrolment(
    engine: Engine,
) -> None:
    _seed(engine)
    with engine.connect() as conn:
        facts = evaluation_facts(conn, Tenancy({A81001}), START, END)
    # the cohort: first enrolment starting in 2024 (b's 2023 enrolment is not; e's is after the period)
    assert facts.enrolled == {
        "Patient/a": date(2024, 1, 15),
        "Patient/b": date(2024, 3, 1),
        "Patient/c": date(2024, 2, 1),
        "Patient/d": date(2024, 4, 1),
    }
    # retained: a (open), b (latest enrolment ep-b2 open), d (latest ep-d2 open); c was discharged
    assert facts.retained == {"Patient/a", "Patient/b", "Patient/d"}
    # discharged in 2024: ep-c and ep-d1 (ep-b1 was in 2023)
    assert facts.discharged == 2
    assert (facts.referrals, facts.eligible, facts.consented) == (1, 1, 1)


def test_a_paused_taper_is_received_a_declined_proposal_is_not_and_spend_counts_what_was_committed(
    engine: Engine,
) -> None:
    _seed(engine)
    with engine.connect() as conn:
        facts = evaluation_facts(conn, Tenancy({A81001}), START, END)
    assert facts.received["Patient/a"] == {(INTERVENTION_SYSTEM, "de-scripting")}
    assert "Patient/c" not in facts.received
    assert (INTERVENTION_SYSTEM, "physiotherapy") in facts.received["Patient/d"]
    # 50.00 committed; the revoked 80.00 was never spent
    assert facts.spent == Decimal("50.00")


def test_readings_sessions_and_assessments_up_to_the_period_end(engine: Engine) -> None:
    _seed(engine)
    with engine.connect() as conn:
        facts = evaluation_facts(conn, Tenancy({A81001}), START, END)
    # the 2025 review is after the period; the lower bound keeps its reason
    assert facts.ome == {
        "Patient/a": [
            Reading(date(2024, 1, 20), Decimal(120)),
            Reading(date(2024, 7, 10), None, "lower bound (>=): no-factor"),
        ]
    }
    assert facts.sessions == {"Patient/a": [Session(date(2024, 2, 1), "finished")]}
    assert facts.proms["phq-9"] == {"Patient/a": [Reading(date(2024, 1, 16), Decimal(9))]}
    assert facts.proms["peg"] == {} and facts.proms["gad-7"] == {}
    # a's latest acceptability answers in the period (2024-11-01); c's were before it
    assert facts.acceptability == {"Patient/a": {"affective-attitude": 4}}


def test_one_practice_or_all_of_them(engine: Engine) -> None:
    _seed(engine)
    with engine.begin() as conn:
        # f: enrolled 2024-05-01 with another practice
        record_fact(
            conn,
            practice="B82002",
            kind="enrolled",
            subject="EpisodeOfCare/ep-f",
            patient="Patient/f",
            occurred_at=_at("2024-05-01"),
        )
    with engine.connect() as conn:
        one = evaluation_facts(conn, Tenancy({A81001}), START, END)
        both = evaluation_facts(conn, Tenancy({A81001, "B82002"}), START, END)
        other = evaluation_facts(conn, Tenancy({"B82002"}), START, END)
    # A81001 alone: a, b, c, d; both: f as well; B82002 alone: f only
    assert set(one.enrolled) == {"Patient/a", "Patient/b", "Patient/c", "Patient/d"}
    assert set(both.enrolled) == set(one.enrolled) | {"Patient/f"}
    assert set(other.enrolled) == {"Patient/f"} and other.ome == {} and other.spent == Decimal("0.00")
