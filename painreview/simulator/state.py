"""The simulator's in-memory practices: patients, tasks and their approval inbox, prescription changes
applied once per idempotency key, BaRS messages received, and the faults it has been told to inject."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from painreview.simulator.population import (
    REGIMENS,
    Regimen,
    SimMedication,
    SimPatient,
    synthetic_practice,
)

__all__ = ["Faults", "NotReplaceable", "PracticeState", "SimTask", "Simulator", "UnknownPatient"]

DECISION_TYPES = frozenset(
    {"approve-taper-step", "review", "MedicationReview", "taper-concern", "concern-escalation"}
)


class UnknownPatient(LookupError):
    pass


class NotReplaceable(ValueError):
    """A change naming an authorisation the patient has no active one of: applying it would leave two
    active prescriptions of one medicine (or stop nothing), so the GP system refuses it."""


@dataclass
class Faults:
    """What share of GP-system API calls fail: ``error_rate`` answer 500 without doing anything;
    ``timeout_rate`` answer after ``timeout_s`` (half of them having applied the write first, as a
    system that commits and then loses the answer); ``slow_rate`` answer after ``slow_s``.
    ``poison_nhs_numbers``: writes for these patients are refused (422) every time."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0
    slow_rate: float = 0.0
    timeout_s: float = 10.0
    slow_s: float = 1.0
    poison_nhs_numbers: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "timeout_rate": self.timeout_rate,
            "slow_rate": self.slow_rate,
            "timeout_s": self.timeout_s,
            "slow_s": self.slow_s,
            "poison_nhs_numbers": sorted(self.poison_nhs_numbers),
        }


@dataclass
class SimTask:
    id: str
    nhs_number: str
    task_type: str
    subject: str
    body: str
    style: str
    external_reference: str | None
    status: str = "requested"
    decision_note: str | None = None
    decided_by: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def needs_decision(self) -> bool:
        return self.task_type in DECISION_TYPES

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "nhsNumber": self.nhs_number,
            "type": self.task_type,
            "subject": self.subject,
            "body": self.body,
            "status": self.status,
            "decisionNote": self.decision_note,
            "decidedBy": self.decided_by,
            "externalReference": self.external_reference,
            "created": self.created.isoformat(),
        }


@dataclass
class PracticeState:
    ods: str
    patients: dict[str, SimPatient]
    tasks: dict[str, SimTask] = field(default_factory=dict)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    """Idempotency key to the answer given: a repeat gets the same answer and changes nothing."""
    changes: list[dict[str, Any]] = field(default_factory=list)
    applications: Counter[str] = field(default_factory=Counter)
    """How often each prescription (our MedicationRequest id) was applied: exactly once is right."""
    bars_messages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def patient(self, nhs_number: str) -> SimPatient:
        try:
            return self.patients[nhs_number]
        except KeyError:
            raise UnknownPatient(nhs_number) from None

    def add_task(self, task: SimTask) -> SimTask:
        task.id = f"{self.ods}-TASK-{len(self.tasks) + 1:06d}"
        self.tasks[task.id] = task
        return task

    def decide(self, task_id: str, *, approve: bool, note: str | None, by: str) -> SimTask:
        task = self.tasks[task_id]
        if task.status == "requested":
            task.status = "completed" if approve else "rejected"
            task.decision_note, task.decided_by = note, by
        return task

    def apply_change(
        self,
        nhs_number: str,
        *,
        prior_id: str | None,
        dmd_code: str | None,
        name: str,
        dosage: str,
        quantity: int | None,
        reference: str | None,
        today: date,
        prior_ids: tuple[str, ...] = (),
        group: str | None = None,
    ) -> SimMedication:
        """Stop the authorisations the change replaces (``prior_ids``, else ``prior_id``) and add the new one
        (a new authorisation, as GP Connect's guidance says a dosage change is recorded). A change naming an
        authorisation which is not one of the patient's active ones is refused (``NotReplaceable``): this
        system's ids only. A change of a ``group`` (one prescription per strength of one dose) may name
        the authorisations an earlier change of the same group stopped: the group replaces them together."""
        patient = self.patient(nhs_number)
        named = tuple(dict.fromkeys(prior_ids or ((prior_id,) if prior_id else ())))
        by_group = {
            stopped for c in self.changes if group and c.get("group") == group for stopped in c["stopped"]
        }
        priors = []
        for wanted in named:
            prior = next((m for m in patient.medications if m.id == wanted), None)
            if prior is None or (prior.status != "active" and wanted not in by_group):
                raise NotReplaceable(f"no active authorisation {wanted} for this patient")
            priors.append(prior)
        for prior in priors:
            prior.status = "stopped"
        prior = priors[0] if priors else None
        regimen = _regimen(dmd_code, name, prior)
        new = SimMedication(
            f"{self.ods}-AUTH-CHG-{len(self.changes) + 1:06d}",
            regimen,
            today,
            issues=1,
            prior_id=prior.id if prior else (named[0] if named else prior_id),
            dosage_text=dosage or regimen.dosage,
            quantity=quantity,
            change_group=group,
        )
        patient.medications.append(new)
        self.changes.append(
            {
                "authorisationId": new.id,
                "nhsNumber": nhs_number,
                "replaces": named[0] if named else prior_id,
                "stopped": list(named),
                "group": group,
                "medicine": name,
                "dosage": new.dosage,
                "reference": reference,
                "applied": datetime.now(UTC).isoformat(),
            }
        )
        self.applications[reference or new.id] += 1
        return new


def _regimen(dmd_code: str | None, name: str, prior: SimMedication | None) -> Regimen:
    for regimens in REGIMENS.values():
        for regimen in regimens:
            if dmd_code and regimen.dmd_code == dmd_code:
                return regimen
    group = prior.regimen.group if prior else "other"
    unit = prior.regimen.unit if prior else "tablet"
    return Regimen(group, dmd_code or "", name, "", 0, unit)


class Simulator:
    def __init__(
        self,
        practices: tuple[str, ...],
        *,
        seed: int,
        size: int,
        today: date,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.today, self.seed, self.clock = today, seed, clock
        self.practices = {
            ods: PracticeState(
                ods, {p.nhs_number: p for p in synthetic_practice(ods, seed=seed, size=size, today=today)}
            )
            for ods in practices
        }
        self.faults = Faults()
        self.rng = random.Random(seed)  # noqa: S311 (fault injection, not secrets)
        self.stats: Counter[str] = Counter()

    @property
    def day(self) -> date:
        """The GP system's today: its clock's (``GPSIM_CLOCK_FILE`` moves it), else the day it started."""
        return self.clock().date() if self.clock is not None else self.today

    def practice(self, ods: str) -> PracticeState:
        return self.practices[ods.upper()]

    def draw_fault(self) -> str | None:
        """None, 'error', 'timeout-before', 'timeout-after' or 'slow' for one API call."""
        self.stats["calls"] += 1
        roll, f = self.rng.random(), self.faults
        fault = None
        if roll < f.error_rate:
            fault = "error"
        elif roll < f.error_rate + f.timeout_rate:
            fault = "timeout-before" if self.rng.random() < 0.5 else "timeout-after"
        elif roll < f.error_rate + f.timeout_rate + f.slow_rate:
            fault = "slow"
        if fault:
            self.stats[fault] += 1
        return fault
