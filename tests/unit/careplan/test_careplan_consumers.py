"""Careplan's event consumers, one at a time, against the careplan kernel over a temporary SQLite database.

Each event is built from its contract (``shared.contracts.new_event`` validates it) and applied by the
service's own consumer (``consumers(CareplanHandlers(kernel, ...))``: the dispatch table and
``FhirKernel.consumer``'s unit of work) in one transaction, as the inbox applies it. The effect is read
back from the stored resources, the evaluation's facts and the outbox. The inbox (``shared.outbox``)
keeps a redelivered event from being applied twice; the consumers that claim their own idempotence
("once per episode", "once per review") are also tested with the same event applied twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.careplan.app import create_service
from services.careplan.consumers import RISK_SYSTEM, CareplanHandlers, consumers
from services.careplan.fhir_mapping.plans import TASK_ID_SYSTEM
from services.careplan.settings import CareplanSettings
from services.careplan.tables import evaluation_fact, medication_review
from shared.bus import InProcessTransport, Received
from shared.contracts import (
    CAREPLAN_UPDATED_V1,
    FOLLOW_UP_RECORDED_V1,
    GP_TASK_COMPLETED_V1,
    MEDREVIEW_COMPLETED_V1,
    PATIENT_DISCHARGED_V1,
    PATIENT_ENROLLED_V1,
    PATIENT_INVITED_V1,
    REFERRAL_ACCEPTED_V1,
    REFERRAL_RECEIVED_V1,
    REFERRAL_REJECTED_V1,
    TAPER_APPROVED_V1,
    TAPER_DECLINED_V1,
    TAPER_PAUSED_V1,
    TAPER_PROPOSED_V1,
    CloudEvent,
    EventType,
    new_event,
)
from shared.fhir import FhirKernel, NotFound, UnitOfWork
from shared.outbox.apply import apply_batch
from shared.outbox.tables import outbox
from shared.web import Consumer
from tests.support.auth import HeaderAuthenticator
from tests.support.careplan import enrolment

PRACTICE = "A81001"
AT = datetime(2024, 1, 10, 9, 30, tzinfo=UTC)


@dataclass
class Careplan:
    kernel: FhirKernel
    consumers: list[Consumer]

    def apply(self, event: CloudEvent) -> None:
        """``event`` applied by the consumers subscribed to its type, each in its own transaction."""
        subscribed = [c for c in self.consumers if event.type in {t.type for t in c.event_types}]
        assert subscribed, f"no careplan consumer of {event.type}"
        for consumer in subscribed:
            with self.kernel.engine.begin() as conn:
                consumer.handler(conn, event)

    def read(self, reference: str) -> dict[str, Any]:
        with self.kernel.engine.connect() as conn:
            return self._uow(conn).read(reference)

    def exists(self, reference: str) -> bool:
        try:
            self.read(reference)
        except NotFound:
            return False
        return True

    def _uow(self, conn: Any) -> UnitOfWork:
        probe = new_event(
            PATIENT_INVITED_V1, source="/test", subject="x", practice=PRACTICE, data=_letter("probe")
        )
        return UnitOfWork.for_event(self.kernel, conn, probe)

    def outbox(self, type_: EventType = CAREPLAN_UPDATED_V1) -> list[dict[str, Any]]:
        with self.kernel.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.payload).where(outbox.c.type == type_.type)).scalars()
            return [json.loads(row) for row in rows]

    def facts(self, kind: str | None = None) -> list[Any]:
        query = select(evaluation_fact)
        if kind is not None:
            query = query.where(evaluation_fact.c.kind == kind)
        with self.kernel.engine.connect() as conn:
            return list(conn.execute(query))

    def create(self, resource: dict[str, Any]) -> dict[str, Any]:
        with self.kernel.engine.begin() as conn:
            return self._uow(conn).create(resource, resource_id=resource["id"])


@pytest.fixture
def careplan(tmp_path: Path) -> Iterator[Careplan]:
    settings = CareplanSettings(database_url=f"sqlite:///{tmp_path / 'careplan.db'}", var_dir=tmp_path)
    parts = create_service(settings, authenticator=HeaderAuthenticator(), transport=InProcessTransport())
    handlers = CareplanHandlers(parts.kernel, specialists={"pain-consultant": "Dr P Consultant"})
    yield Careplan(parts.kernel, consumers(handlers))
    parts.engine.dispose()


def _event(type_: EventType, subject: str, data: dict[str, Any], **extra: Any) -> CloudEvent:
    return new_event(
        type_, source="/painreview/test", subject=subject, practice=PRACTICE, data=data, time=AT, **extra
    )


def _letter(letter_id: str, patient: str = "p1", sent: str | None = "2024-01-05T10:00:00Z") -> dict[str, Any]:
    letter: dict[str, Any] = {
        "resourceType": "Communication",
        "id": letter_id,
        "status": "completed",
        "subject": {"reference": f"Patient/{patient}"},
    }
    if sent:
        letter["sent"] = sent
    return letter


def _enrolled(patient: str = "p1", episode: str = "ep1", **extra: Any) -> CloudEvent:
    return _event(PATIENT_ENROLLED_V1, f"EpisodeOfCare/{episode}", enrolment(patient, episode), **extra)


def _discharged(patient: str = "p1", episode: str = "ep1", end: str = "2024-06-30") -> CloudEvent:
    data = {
        "resourceType": "EpisodeOfCare",
        "id": episode,
        "status": "finished",
        "patient": {"reference": f"Patient/{patient}"},
        "period": {"start": "2024-01-10", "end": end},
    }
    return _event(PATIENT_DISCHARGED_V1, f"EpisodeOfCare/{episode}", data)


def _plan_reference(careplan: Careplan) -> str:
    (updated,) = careplan.outbox()
    return str(updated["subject"])


# ---- patient.enrolled / patient.discharged -------------------------------------------------------
def test_enrolment_creates_a_draft_plan_for_the_patient_with_its_care_team_and_says_so(
    careplan: Careplan,
) -> None:
    careplan.apply(_enrolled())

    updated = careplan.outbox()
    assert len(updated) == 1
    assert updated[0]["subject"].startswith("CarePlan/")
    plan = careplan.read(updated[0]["subject"])
    assert plan["status"] == "draft"
    assert plan["subject"] == {"reference": "Patient/p1"}
    assert {"reference": "Condition/cond-p1"} in plan["addresses"]  # the conditions the referral carried
    assert updated[0]["data"]["id"] == plan["id"]  # the event carries the stored plan
    (team_ref,) = plan["careTeam"]
    team = careplan.read(team_ref["reference"])
    assert team["status"] == "active"
    assert team["subject"] == {"reference": "Patient/p1"}
    # the evaluation's facts: enrolled (at the episode's start) and consented
    (enrolled,) = careplan.facts("enrolled")
    assert (enrolled.subject, enrolled.patient) == ("EpisodeOfCare/ep1", "Patient/p1")
    assert enrolled.occurred_at.date().isoformat() == "2024-01-10"
    (consented,) = careplan.facts("consented")
    assert (consented.subject, consented.patient) == ("Consent/consent-p1", "Patient/p1")


def test_a_second_enrolment_of_the_same_episode_makes_no_second_plan(careplan: Careplan) -> None:
    careplan.apply(_enrolled())
    careplan.apply(_enrolled())  # a different event (new id), the same episode: "once per episode"

    assert len(careplan.outbox()) == 1
    assert len(careplan.facts("enrolled")) == 1


def test_enrolments_of_two_episodes_make_two_plans(careplan: Careplan) -> None:
    careplan.apply(_enrolled("p1", "ep1"))
    careplan.apply(_enrolled("p2", "ep2"))

    subjects = {careplan.read(e["subject"])["subject"]["reference"] for e in careplan.outbox()}
    assert subjects == {"Patient/p1", "Patient/p2"}


def test_an_enrolment_without_an_episode_is_refused_for_a_retry(careplan: Careplan) -> None:
    data = enrolment("p1", "ep1")
    data["entry"] = [e for e in data["entry"] if e["resource"]["resourceType"] != "EpisodeOfCare"]
    with pytest.raises(ValueError, match="EpisodeOfCare"):
        careplan.apply(_event(PATIENT_ENROLLED_V1, "EpisodeOfCare/ep1", data))
    assert careplan.outbox() == []


@pytest.mark.parametrize(
    ("agreed", "closed_as"),
    [
        (False, "revoked"),  # never agreed: the draft is revoked
        (True, "completed"),  # an agreed (active) plan is completed
    ],
)
def test_discharge_closes_the_plan_and_the_care_team(
    careplan: Careplan, agreed: bool, closed_as: str
) -> None:
    careplan.apply(_enrolled())
    reference = _plan_reference(careplan)
    if agreed:
        plan = careplan.read(reference)
        with careplan.kernel.engine.begin() as conn:
            uow = careplan._uow(conn)
            uow.update({**plan, "status": "active"}, if_match=int(plan["meta"]["versionId"]))

    careplan.apply(_discharged(end="2024-06-30"))

    plan = careplan.read(reference)
    assert plan["status"] == closed_as
    assert plan["period"]["end"] == "2024-06-30"
    assert careplan.read(plan["careTeam"][0]["reference"])["status"] == "inactive"
    closing = careplan.outbox()[-1]
    assert closing["subject"] == reference
    assert closing["data"]["status"] == closed_as
    (discharged,) = careplan.facts("discharged")
    assert (discharged.subject, discharged.patient) == ("EpisodeOfCare/ep1", "Patient/p1")
    assert discharged.occurred_at.date().isoformat() == "2024-06-30"


def test_a_second_discharge_leaves_the_closed_plan_alone(careplan: Careplan) -> None:
    careplan.apply(_enrolled())
    careplan.apply(_discharged())
    version = careplan.read(_plan_reference_last(careplan))["meta"]["versionId"]

    careplan.apply(_discharged())

    assert careplan.read(_plan_reference_last(careplan))["meta"]["versionId"] == version
    assert len(careplan.outbox()) == 2  # the draft, its closing; nothing for the repeat


def _plan_reference_last(careplan: Careplan) -> str:
    return str(careplan.outbox()[-1]["subject"])


def test_a_discharge_of_a_patient_without_a_plan_records_the_fact_only(careplan: Careplan) -> None:
    careplan.apply(_discharged("p9", "ep9"))

    assert careplan.outbox() == []
    assert [f.patient for f in careplan.facts("discharged")] == ["Patient/p9"]


# ---- taper.* -----------------------------------------------------------------------------------
def _taper(status: str, note: str | None = None) -> dict[str, Any]:
    """The taper CarePlan sent alone (the form before the Bundle, which the contract still allows)."""
    taper: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": "taper1",
        "status": status,
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
    }
    if note:
        taper["note"] = [{"text": note}]
    return taper


def _descripting(plan: dict[str, Any]) -> dict[str, Any]:
    (activity,) = [a for a in plan.get("activity") or [] if {"reference": "CarePlan/taper1"} in _refs(a)]
    return dict(activity)


def _refs(activity: dict[str, Any]) -> list[dict[str, str]]:
    return [{"reference": o["reference"]} for o in activity.get("outcomeReference") or []]


TAPER_DECLINE_TASK = {
    "resourceType": "Task",
    "id": "approve1",
    "status": "rejected",
    "intent": "order",
    "for": {"reference": "Patient/p1"},
    "focus": {"reference": "CarePlan/taper1"},
    "statusReason": {"text": "Patient prefers to wait"},
}


@pytest.mark.parametrize(
    ("type_", "data", "status", "reason"),
    [
        (TAPER_PROPOSED_V1, _taper("draft"), "scheduled", None),
        (TAPER_APPROVED_V1, _taper("active"), "in-progress", None),
        (TAPER_PAUSED_V1, _taper("on-hold", "withdrawal symptoms"), "on-hold", "withdrawal symptoms"),
        (TAPER_DECLINED_V1, TAPER_DECLINE_TASK, "on-hold", "Patient prefers to wait"),
    ],
)
def test_a_taper_event_shows_in_the_plan_s_de_scripting_activity(
    careplan: Careplan, type_: EventType, data: dict[str, Any], status: str, reason: str | None
) -> None:
    careplan.apply(_enrolled())
    reference = _plan_reference(careplan)

    careplan.apply(_event(type_, "CarePlan/taper1", data))

    plan = careplan.read(reference)
    activity = _descripting(plan)
    assert activity["detail"]["status"] == status
    assert (activity["detail"].get("statusReason") or {}).get("text") == reason
    assert len(activity["progress"]) == 1
    updated = careplan.outbox()
    assert [e["subject"] for e in updated] == [reference, reference]
    assert updated[-1]["data"]["meta"]["versionId"] == plan["meta"]["versionId"]


def test_taper_events_in_turn_keep_one_activity_with_each_step_s_progress(careplan: Careplan) -> None:
    careplan.apply(_enrolled())
    reference = _plan_reference(careplan)

    careplan.apply(_event(TAPER_PROPOSED_V1, "CarePlan/taper1", _taper("draft")))
    careplan.apply(_event(TAPER_APPROVED_V1, "CarePlan/taper1", _taper("active")))

    activity = _descripting(careplan.read(reference))
    assert activity["detail"]["status"] == "in-progress"
    assert len(activity["progress"]) == 2
    assert len(activity["outcomeReference"]) == 1


@pytest.mark.parametrize("discharged", [False, True])
def test_a_taper_event_without_an_open_plan_changes_nothing(careplan: Careplan, discharged: bool) -> None:
    if discharged:
        careplan.apply(_enrolled())
        careplan.apply(_discharged())
    before = careplan.outbox()

    careplan.apply(_event(TAPER_PROPOSED_V1, "CarePlan/taper1", _taper("draft")))

    assert careplan.outbox() == before


# ---- facts for the service evaluation ------------------------------------------------------------
def _referral(request_id: str, authored: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "ServiceRequest",
                    "id": request_id,
                    "status": "active",
                    "intent": "order",
                    "subject": {"reference": "Patient/p1"},
                    "authoredOn": authored,
                }
            },
            {"resource": {"resourceType": "Patient", "id": "p1"}},
        ],
    }


@pytest.mark.parametrize(
    ("type_", "kind"),
    [
        (REFERRAL_RECEIVED_V1, "referral-received"),
        (REFERRAL_ACCEPTED_V1, "referral-accepted"),
        (REFERRAL_REJECTED_V1, "referral-rejected"),
    ],
)
def test_a_referral_event_is_a_fact_of_its_kind(careplan: Careplan, type_: EventType, kind: str) -> None:
    careplan.apply(_event(type_, "ServiceRequest/sr1", _referral("sr1", "2024-01-02T08:00:00Z")))

    (fact,) = careplan.facts()
    assert (fact.kind, fact.subject, fact.patient, fact.practice) == (
        kind,
        "ServiceRequest/sr1",
        "Patient/p1",
        PRACTICE,
    )
    assert fact.occurred_at.isoformat().startswith("2024-01-02T08:00:00")
    assert careplan.outbox() == []


@pytest.mark.parametrize(
    ("sent", "on"),
    [("2024-01-05T10:00:00Z", "2024-01-05"), (None, AT.date().isoformat())],  # unsent: the event's time
)
def test_an_invitation_is_a_fact_when_it_was_sent(careplan: Careplan, sent: str | None, on: str) -> None:
    careplan.apply(_event(PATIENT_INVITED_V1, "Communication/c1", _letter("c1", sent=sent)))

    (fact,) = careplan.facts()
    assert (fact.kind, fact.subject, fact.patient) == ("invited", "Communication/c1", "Patient/p1")
    assert fact.occurred_at.date().isoformat() == on


def _review(
    observation_id: str, value: Any, *, comparator: str | None = None, flags: tuple[str, ...] = ()
) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value, "unit": "mg/d", "code": "mg/d"}
    if comparator:
        quantity["comparator"] = comparator
    observation = {
        "resourceType": "Observation",
        "id": observation_id,
        "status": "final",
        "code": {"text": "Total daily OME"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-02-01T09:00:00Z",
        "valueQuantity": quantity,
    }
    issues = [
        {
            "resourceType": "DetectedIssue",
            "status": "final",
            "code": {"coding": [{"system": RISK_SYSTEM, "code": flag}]},
        }
        for flag in flags
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (observation, *issues)],
    }


def test_a_review_is_an_ome_fact_and_a_row_of_the_mdt_agenda(careplan: Careplan) -> None:
    data = _review("o1", 120, flags=("high-ome", "benzodiazepine"))
    careplan.apply(_event(MEDREVIEW_COMPLETED_V1, "Patient/p1", data))

    (fact,) = careplan.facts("ome")
    assert (fact.subject, fact.patient, fact.value) == ("Observation/o1", "Patient/p1", Decimal(120))
    with careplan.kernel.engine.connect() as conn:
        (row,) = conn.execute(select(medication_review))
    assert (row.patient, row.review, row.total_ome, row.lower_bound) == (
        "Patient/p1",
        "Observation/o1",
        Decimal(120),
        False,
    )
    assert set(row.flags.split()) == {"high-ome", "benzodiazepine"}
    assert row.reviewed_at.date().isoformat() == "2024-02-01"


def test_a_lower_bound_review_is_kept_for_the_mdt_as_a_lower_bound(careplan: Careplan) -> None:
    careplan.apply(_event(MEDREVIEW_COMPLETED_V1, "Patient/p1", _review("o1", 60, comparator=">=")))

    with careplan.kernel.engine.connect() as conn:
        (row,) = conn.execute(select(medication_review))
    assert (row.total_ome, row.lower_bound) == (Decimal(60), True)
    (fact,) = careplan.facts("ome")
    assert fact.value is None  # the evaluation counts it as not computable


def test_a_review_delivered_again_is_kept_once(careplan: Careplan) -> None:
    event = _event(MEDREVIEW_COMPLETED_V1, "Patient/p1", _review("o1", 120))
    careplan.apply(event)
    careplan.apply(event)  # "a review is also kept once by its Observation"

    with careplan.kernel.engine.connect() as conn:
        assert len(list(conn.execute(select(medication_review)))) == 1
    assert len(careplan.facts("ome")) == 1


# ---- gp.task-completed ---------------------------------------------------------------------------
def _summary_task() -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "id": "gpt1",
        "status": "requested",
        "intent": "order",
        "for": {"reference": "Patient/p1"},
        "description": "Pain management plan summary",
    }


def test_the_practice_s_outcome_is_recorded_on_our_summary_task(careplan: Careplan) -> None:
    careplan.create(_summary_task())
    done = {
        "resourceType": "Task",
        "id": "their-1",
        "identifier": [{"system": TASK_ID_SYSTEM, "value": "gpt1"}],
        "status": "completed",
        "intent": "order",
        "businessStatus": {"text": "Filed in the GP record"},
        "lastModified": "2024-03-01T12:00:00Z",
    }

    careplan.apply(_event(GP_TASK_COMPLETED_V1, "Task/their-1", done))

    task = careplan.read("Task/gpt1")
    assert task["status"] == "completed"
    assert task["businessStatus"] == {"text": "Filed in the GP record"}
    assert task["lastModified"].startswith("2024-03-01T12:00:00")
    assert task["meta"]["versionId"] == "2"


def test_a_completed_task_that_is_not_ours_changes_nothing(careplan: Careplan) -> None:
    careplan.create(_summary_task())
    done = {
        "resourceType": "Task",
        "id": "their-2",
        "identifier": [{"system": "https://other.example.org/id/task", "value": "gpt1"}],
        "status": "completed",
        "intent": "order",
    }

    careplan.apply(_event(GP_TASK_COMPLETED_V1, "Task/their-2", done))

    task = careplan.read("Task/gpt1")
    assert (task["status"], task["meta"]["versionId"]) == ("requested", "1")


# ---- follow-up.recorded --------------------------------------------------------------------------
def _follow_up(task_id: str = "fu1", discharged: str | None = "2024-06-30") -> dict[str, Any]:
    inputs: list[dict[str, Any]] = [{"type": {"text": "months-after-discharge"}, "valueInteger": 3}]
    if discharged:
        inputs.append({"type": {"text": "discharged"}, "valueDate": discharged})
    return {
        "resourceType": "Task",
        "id": task_id,
        "status": "completed",
        "intent": "order",
        "for": {"reference": "Patient/p1"},
        "input": inputs,
        "lastModified": "2024-09-30T10:00:00Z",
    }


def _follow_up_proms(careplan: Careplan) -> list[dict[str, Any]]:
    with careplan.kernel.engine.connect() as conn:
        found = careplan._uow(conn).search("Observation", [("subject", "Patient/p1")])
    return [r for r in found.resources if r.get("category") == [{"text": "follow-up after discharge"}]]


def test_a_follow_up_records_each_prom_and_why_it_is_not_computable_without_answers(
    careplan: Careplan,
) -> None:
    careplan.apply(_event(FOLLOW_UP_RECORDED_V1, "Task/fu1", _follow_up()))

    proms = _follow_up_proms(careplan)
    # PEG, PHQ-9 and GAD-7 (domain/follow_up_proms.py), none answered: not computable, never guessed
    assert sorted(o["code"]["text"].split()[0] for o in proms) == ["GAD-7", "PEG", "PHQ-9"]
    for observation in proms:
        assert observation["subject"] == {"reference": "Patient/p1"}
        assert observation["effectiveDateTime"].startswith("2024-09-30")
        assert "valueQuantity" not in observation
        assert observation["dataAbsentReason"]["coding"][0]["code"] == "not-asked"
        assert "No response" in observation["dataAbsentReason"]["text"]


def test_a_follow_up_recorded_again_keeps_one_observation_per_measure(careplan: Careplan) -> None:
    careplan.apply(_event(FOLLOW_UP_RECORDED_V1, "Task/fu1", _follow_up()))
    careplan.apply(_event(FOLLOW_UP_RECORDED_V1, "Task/fu1", _follow_up()))  # "once per Task and measure"

    assert len(_follow_up_proms(careplan)) == 3


def test_a_follow_up_without_a_discharge_date_records_nothing(careplan: Careplan) -> None:
    careplan.apply(_event(FOLLOW_UP_RECORDED_V1, "Task/fu1", _follow_up(discharged=None)))

    assert _follow_up_proms(careplan) == []


# ---- the inbox: one event applied once per consumer ---------------------------------------------
def test_an_event_redelivered_to_a_consumer_is_applied_once(careplan: Careplan) -> None:
    """The inbox (``shared.outbox.apply``), not the consumer, drops a redelivery of the same event id: a
    taper event, which adds a progress note to the plan each time it is applied, is applied once."""
    careplan.apply(_enrolled())
    reference = _plan_reference(careplan)
    (taper_consumer,) = [c for c in careplan.consumers if c.name == "careplan-taper"]
    handlers = {t.type: taper_consumer.handler for t in taper_consumer.event_types}
    event = _event(TAPER_PROPOSED_V1, "CarePlan/taper1", _taper("draft"))
    for attempt in (1, 2):
        applied = apply_batch(
            careplan.kernel.engine, taper_consumer.name, handlers, [Received(event, attempt)]
        )
        assert not [o for o in applied.outcomes if o is not None], "the delivery failed"

    assert len(_descripting(careplan.read(reference))["progress"]) == 1
    assert len(careplan.outbox()) == 2  # the draft plan, then the taper's one update
