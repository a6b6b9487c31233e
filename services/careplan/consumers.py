"""The careplan service's consumers: one ``handler(event, uow)`` per consumed event, in the inbox
transaction (applied once per event), and the durable subscriptions (names stable across releases) that
dispatch to them.

Writes go through the kernel's unit of work acting for the event's practice, with a Provenance naming this
service's consumer, and every change to a pain management plan is published as ``careplan.updated``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from services.careplan.domain.catalogue import interventions
from services.careplan.domain.descripting import apply_taper_progress, taper_progress
from services.careplan.domain.follow_up_proms import prom_observation, proms_at_follow_up
from services.careplan.fhir_mapping.plans import care_team, draft_plan, stable_id
from services.careplan.repository import (
    CLOSED_PLAN,
    pain_plan_for,
    prom_readings_of,
    record_fact,
    record_medication_review,
)
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
    taper_parts,
)
from shared.fhir import (
    ConsumerHandler,
    FhirKernel,
    NotFound,
    UnitOfWork,
    carried_resources,
    format_instant,
    parse_instant,
    record_enrolment_event,
)
from shared.web import Consumer

__all__ = ["RISK_SYSTEM", "CareplanHandlers", "consumers", "medication_review_for_mdt"]

log = logging.getLogger(__name__)


def _instant(text: Any, fallback: datetime) -> datetime:
    """A FHIR date or dateTime as an aware UTC datetime (dates at midnight); ``fallback`` when absent."""
    try:
        return parse_instant(text)
    except ValueError:
        return fallback.astimezone(UTC)


_REASON_CODE = re.compile(r"\(([a-z0-9:-]+)\)\. The total OME is a lower bound")


def _lower_bound_reason(data: Mapping[str, Any], comparator: str) -> str:
    """Why a review's total is not a figure: the engine's reason codes when the review names them."""
    codes = sorted(
        {
            match.group(1)
            for issue in carried_resources(data, "DetectedIssue")
            for match in [_REASON_CODE.search(str(issue.get("detail") or ""))]
            if match
        }
    )
    named = f": {', '.join(codes)}" if codes else ""
    return f"lower bound ({comparator}){named}"


@dataclass
class CareplanHandlers:
    """The handlers, writing through the service's kernel (built before them)."""

    kernel: FhirKernel
    specialists: Mapping[str, str]

    CLIENT_ID = "careplan-consumer"
    """Who the Provenances of what the consumers write name."""

    # ---- plumbing ---------------------------------------------------------------------------
    @staticmethod
    def _update(uow: UnitOfWork, resource: dict[str, Any]) -> dict[str, Any]:
        return uow.update(resource, if_match=int(resource["meta"]["versionId"]))

    @staticmethod
    def _exists(uow: UnitOfWork, resource_type: str, resource_id: str) -> bool:
        try:
            uow.read(resource_type, resource_id)
        except NotFound:
            return False
        return True

    @staticmethod
    def _plan_updated(uow: UnitOfWork, stored: dict[str, Any]) -> None:
        uow.emit(CAREPLAN_UPDATED_V1, f"CarePlan/{stored['id']}", stored)

    # ---- enrolment and discharge --------------------------------------------------------------
    def enrolled(self, event: CloudEvent, uow: UnitOfWork) -> None:
        """patient.enrolled: a CareTeam and a draft pain management plan (once per episode)."""
        episodes = carried_resources(event.data, "EpisodeOfCare")
        if not episodes:
            raise ValueError("patient.enrolled carries no EpisodeOfCare")
        episode = episodes[0]
        patients = carried_resources(event.data, "Patient")
        patient = (episode.get("patient") or {}).get("reference") or (
            f"Patient/{patients[0]['id']}" if patients else None
        )
        if not patient:
            raise ValueError("patient.enrolled names no patient")
        key = str(episode.get("id") or patient)
        practice = event.practice
        record_enrolment_event(uow.conn, practice=practice, data=event.data, at=event.time)
        enrolled_at = _instant((episode.get("period") or {}).get("start"), event.time)
        record_fact(
            uow.conn,
            practice=practice,
            kind="enrolled",
            subject=f"EpisodeOfCare/{key}",
            patient=patient,
            occurred_at=enrolled_at,
        )
        for consent in carried_resources(event.data, "Consent"):
            if consent.get("status") == "active":
                record_fact(
                    uow.conn,
                    practice=practice,
                    kind="consented",
                    subject=f"Consent/{consent.get('id') or key}",
                    patient=patient,
                    occurred_at=_instant(consent.get("dateTime"), enrolled_at),  # undated: at enrolment
                )
        team_id, plan_id = stable_id(practice, "care-team", key), stable_id(practice, "pain-plan", key)
        if self._exists(uow, "CarePlan", plan_id):
            return
        referrals = carried_resources(event.data, "ServiceRequest")
        if not self._exists(uow, "CareTeam", team_id):
            team = care_team(
                team_id=team_id,
                practice=practice,
                patient=patient,
                episode=episode,
                referral=referrals[0] if referrals else None,
                specialists=self.specialists,
                today=format_instant(event.time)[:10],
            )
            uow.create(team, resource_id=team["id"])
        plan = draft_plan(
            plan_id=plan_id,
            team_id=team_id,
            patient=patient,
            episode=episode,
            conditions=carried_resources(event.data, "Condition"),
            created=format_instant(event.time),
        )
        stored = uow.create(plan, resource_id=plan["id"])
        self._plan_updated(uow, stored)

    def discharged(self, event: CloudEvent, uow: UnitOfWork) -> None:
        """patient.discharged: the plan completed (or revoked if never agreed), the team inactive."""
        episode = event.data
        patient = (episode.get("patient") or {}).get("reference")
        end = (episode.get("period") or {}).get("end")
        record_enrolment_event(
            uow.conn, practice=event.practice, data=episode, at=event.time, discharged=True
        )
        record_fact(
            uow.conn,
            practice=event.practice,
            kind="discharged",
            subject=f"EpisodeOfCare/{episode.get('id') or patient}",
            patient=patient,
            occurred_at=_instant(end, event.time),
        )
        plan = pain_plan_for(uow.conn, str(patient), uow.tenants) if patient else None
        if plan is None or plan.get("status") in CLOSED_PLAN:
            return
        plan["status"] = "revoked" if plan.get("status") == "draft" else "completed"
        plan["period"] = {**(plan.get("period") or {}), "end": str(end or format_instant(event.time))[:10]}
        stored = self._update(uow, plan)
        self._plan_updated(uow, stored)
        for ref in plan.get("careTeam") or []:
            team_id = str(ref.get("reference", "")).removeprefix("CareTeam/")
            try:
                team = uow.read("CareTeam", team_id)
            except NotFound:
                continue
            if team.get("status") == "active":
                self._update(uow, {**team, "status": "inactive"})

    # ---- medication steps from medreview ------------------------------------------------------
    def taper(self, kind: str) -> ConsumerHandler:
        def handle(event: CloudEvent, uow: UnitOfWork) -> None:
            taper, _ = taper_parts(event.data)  # the taper CarePlan (the Bundle's, or sent alone) or a Task
            patient = ((taper.get("subject") or taper.get("for")) or {}).get("reference")
            plan = pain_plan_for(uow.conn, str(patient), uow.tenants) if patient else None
            if plan is None or plan.get("status") in CLOSED_PLAN:
                log.info("taper.%s: no open pain management plan to show it in", kind)
                return
            focus = taper.get("focus") if taper.get("resourceType") == "Task" else None
            reference = (focus or {}).get("reference") or event.subject
            updated = apply_taper_progress(
                plan,
                taper_progress(kind, event.data),
                taper_reference=str(reference),
                concept=interventions()["de-scripting"].concept(),
                now=format_instant(event.time),
            )
            stored = self._update(uow, updated)
            self._plan_updated(uow, stored)

        return handle

    # ---- facts for the service evaluation -----------------------------------------------------
    def referral(self, kind: str) -> ConsumerHandler:
        def handle(event: CloudEvent, uow: UnitOfWork) -> None:
            for request in carried_resources(event.data, "ServiceRequest")[:1]:
                record_fact(
                    uow.conn,
                    practice=event.practice,
                    kind=f"referral-{kind}",
                    subject=f"ServiceRequest/{request.get('id') or event.subject}",
                    patient=(request.get("subject") or {}).get("reference"),
                    occurred_at=_instant(request.get("authoredOn"), event.time),
                )

        return handle

    def invited(self, event: CloudEvent, uow: UnitOfWork) -> None:
        letter = event.data
        record_fact(
            uow.conn,
            practice=event.practice,
            kind="invited",
            subject=f"Communication/{letter.get('id') or event.id}",
            patient=(letter.get("subject") or {}).get("reference"),
            occurred_at=_instant(letter.get("sent"), event.time),
        )

    def medication_reviewed(self, event: CloudEvent, uow: UnitOfWork) -> None:
        """medreview.completed: the total daily OME (mg/day) at that review, as medreview's OME engine
        (``shared.medicines.ome``) computed it.

        A total with a ``comparator`` (``>=``: an opioid's dose was not computable) is only a lower bound,
        and one with no value is no figure: either is recorded without a value and with the reason (the
        engine's reason codes, from the review's ``ome-not-computable`` DetectedIssues), so the evaluation
        counts the review as not computable, never as a figure.
        """
        for observation in carried_resources(event.data, "Observation"):
            quantity = observation.get("valueQuantity") or {}
            unit = (quantity.get("code"), quantity.get("unit"))
            absent = observation.get("dataAbsentReason")
            if not {"mg/d", "mg/(24.h)", "mg/day"} & set(unit) and not absent:
                continue
            value: Decimal | None
            try:
                value = Decimal(str(quantity["value"]))
            except (KeyError, InvalidOperation):
                value = None
            if value is not None and not value.is_finite():
                value = None
            note = None
            if value is None:
                note = "no figure: the review's total has no value"
            elif quantity.get("comparator"):
                value, note = None, _lower_bound_reason(event.data, str(quantity["comparator"]))
            record_fact(
                uow.conn,
                practice=event.practice,
                kind="ome",
                subject=f"Observation/{observation.get('id') or event.id}",
                patient=(observation.get("subject") or {}).get("reference"),
                occurred_at=_instant(
                    observation.get("effectiveDateTime") or observation.get("issued"), event.time
                ),
                value=value,
                note=note,
            )
            return

    # ---- follow-up after discharge (medreview's follow-up.recorded): the PROMs as of that day -------------
    def follow_up_recorded(self, event: CloudEvent, uow: UnitOfWork) -> None:
        """One Observation per PROM (PEG, PHQ-9, GAD-7): its score as of the follow-up's day and its change
        from discharge, or not computable and why (``domain/follow_up_proms.py``). Kept once per Task and
        measure."""
        task = event.data
        patient = str((task.get("for") or {}).get("reference") or "")
        inputs = {str((i.get("type") or {}).get("text")): i for i in task.get("input") or ()}
        discharged = _date(str((inputs.get("discharged") or {}).get("valueDate") or ""))
        follow_up = _date(str(task.get("lastModified") or "")) or event.time.date()
        if not patient.startswith("Patient/") or discharged is None or follow_up < discharged:
            log.warning("follow-up.recorded: no patient or discharge date on the Task; PROMs not recorded")
            return
        readings = prom_readings_of(uow.conn, uow.tenants, patient, follow_up)
        task_ref = f"Task/{task.get('id') or event.subject.removeprefix('Task/')}"
        for prom in proms_at_follow_up(readings, discharged, follow_up):
            observation_id = stable_id(event.practice, "follow-up-prom", task_ref, prom.measure)
            if self._exists(uow, "Observation", observation_id):
                continue
            observation = prom_observation(
                prom, patient=patient, task=task_ref, follow_up=follow_up, observation_id=observation_id
            )
            uow.create(observation, resource_id=observation_id)

    def gp_task_completed(self, event: CloudEvent, uow: UnitOfWork) -> None:
        """gp.task-completed for one of our summary Tasks: record the practice's outcome."""
        done = event.data
        ours = [i.get("value") for i in done.get("identifier") or [] if "gp-task" in str(i.get("system"))]
        for task_id in ours:
            try:
                task = uow.read("Task", str(task_id))
            except NotFound:
                continue
            changed = {**task, "status": done.get("status", task["status"])}
            for name in ("businessStatus", "statusReason", "output", "lastModified"):
                if name in done:
                    changed[name] = done[name]
            self._update(uow, changed)


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


# ---- the monthly MDT agenda's facts -------------------------------------------------------------
RISK_SYSTEM = "https://pain-review.example.org/fhir/CodeSystem/medreview-risk"
_MG_PER_DAY = {"mg/d", "mg/(24.h)", "mg/day"}


def medication_review_for_mdt(event: CloudEvent, uow: UnitOfWork) -> None:
    """``medreview.completed`` for the monthly MDT agenda: each review's total daily OME and risk flags.

    Applied once per event by the ``careplan-mdt`` consumer (a review is also kept once by its Observation).
    The data (docs/EVENTS.md) is a Bundle of the total OME Observation (``valueQuantity`` mg/d,
    ``comparator: ">="`` when an opioid's dose was not computable) and the review's DetectedIssues (codes
    of medreview's ``medreview-risk``)."""
    observations = [
        o
        for o in carried_resources(event.data, "Observation")
        if _MG_PER_DAY
        & {(o.get("valueQuantity") or {}).get("code"), (o.get("valueQuantity") or {}).get("unit")}
    ]
    if not observations:
        log.info("medreview.completed without a total OME Observation: nothing for the MDT")
        return
    observation = observations[0]
    patient = (observation.get("subject") or {}).get("reference")
    if not isinstance(patient, str) or not patient.startswith("Patient/"):
        log.info("medreview.completed about no patient: nothing for the MDT")
        return
    quantity = observation.get("valueQuantity") or {}
    try:
        total: Decimal | None = Decimal(str(quantity["value"]))
    except (KeyError, InvalidOperation):
        total = None
    flags = {
        str(c["code"])
        for issue in carried_resources(event.data, "DetectedIssue")
        for c in (issue.get("code") or {}).get("coding") or ()
        if c.get("system") == RISK_SYSTEM and c.get("code")
    }
    when_text = observation.get("effectiveDateTime") or observation.get("issued")
    try:
        when = parse_instant(when_text) if isinstance(when_text, str) else event.time
    except ValueError:
        when = event.time
    record_medication_review(
        uow.conn,
        practice=event.practice,
        patient=patient,
        review=f"Observation/{observation.get('id') or event.id}",
        reviewed_at=when,
        total=total,
        lower_bound=bool(quantity.get("comparator")),
        flags=flags,
    )


# ---- the subscriptions ----------------------------------------------------------------------------
def _consumer(handlers: CareplanHandlers, name: str, table: Mapping[EventType, ConsumerHandler]) -> Consumer:
    by_type = {t.type: h for t, h in table.items()}

    def dispatch(event: CloudEvent, uow: UnitOfWork) -> None:
        by_type[event.type](event, uow)

    handler = handlers.kernel.consumer(dispatch, client_id=handlers.CLIENT_ID)
    return Consumer(name=name, event_types=tuple(table), handler=handler)


def consumers(handlers: CareplanHandlers) -> list[Consumer]:
    """One durable consumer per purpose; each dispatches on the event type."""
    return [
        _consumer(
            handlers,
            "careplan-enrolment",
            {PATIENT_ENROLLED_V1: handlers.enrolled, PATIENT_DISCHARGED_V1: handlers.discharged},
        ),
        _consumer(
            handlers,
            "careplan-taper",
            {
                TAPER_PROPOSED_V1: handlers.taper("proposed"),
                TAPER_APPROVED_V1: handlers.taper("approved"),
                TAPER_DECLINED_V1: handlers.taper("declined"),
                TAPER_PAUSED_V1: handlers.taper("paused"),
            },
        ),
        _consumer(
            handlers,
            "careplan-evaluation",
            {
                REFERRAL_RECEIVED_V1: handlers.referral("received"),
                REFERRAL_ACCEPTED_V1: handlers.referral("accepted"),
                REFERRAL_REJECTED_V1: handlers.referral("rejected"),
                PATIENT_INVITED_V1: handlers.invited,
                MEDREVIEW_COMPLETED_V1: handlers.medication_reviewed,
            },
        ),
        _consumer(handlers, "careplan-gp-tasks", {GP_TASK_COMPLETED_V1: handlers.gp_task_completed}),
        # The monthly MDT agenda's facts: each review's total OME and risk flags.
        _consumer(handlers, "careplan-mdt", {MEDREVIEW_COMPLETED_V1: medication_review_for_mdt}),
        # The PROMs as of a follow-up after discharge (medreview records the OME and whether the dose held).
        _consumer(handlers, "careplan-follow-up", {FOLLOW_UP_RECORDED_V1: handlers.follow_up_recorded}),
    ]
