"""After a write-back the GP record is read again (``medication.list-synced``): does it hold exactly the
opioid authorisations the taper expects?

For each opioid (ingredient) the patient's taper changes, the GP record must hold exactly the active
authorisations the plan has in force: the original prescription until a step is written back, then that
step's orders (one per strength: a step in several strengths is one set of authorisations), none once a step
written back stopped it. More means the replaced prescription is still active beside the new one (a
duplicate: the patient could be issued both); fewer means the change (or part of it) did not land. Either
way the practice gets a ``review`` Task and the patient a ``DetectedIssue``
(``opioid-authorisations-mismatch``), once per plan while the Task is open. Only steps whose date has come
are counted: a later step is not written before its date.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.medreview.domain.medication_list import medications_index
from services.medreview.fhir_mapping import REVIEW, gp_task
from services.medreview.fhir_mapping.codes import RISK_CODES, RISK_DISPLAY, coding
from services.medreview.repository import repository
from services.medreview.workflow.planning import plan_steps
from shared.contracts import GP_TASK_REQUESTED_V1
from shared.fhir import UnitOfWork, format_instant
from shared.medicines.identify import identify_medication
from shared.terminology import DrugClass, ProductCatalogue, load_product_catalogue

__all__ = ["MISMATCH", "authorisation_counts", "reconcile_gp_record"]

MISMATCH = "opioid-authorisations-mismatch"
WRITTEN_PLAN_STATUSES = ("active", "on-hold", "completed")
_DESCRIPTION = "Reconcile the patient's opioid prescriptions with the agreed dose reduction"


def authorisation_counts(
    resources: Sequence[Mapping[str, Any]], catalogue: ProductCatalogue
) -> dict[str, list[str]]:
    """The GP record's active authorisations (MedicationRequest ``intent`` plan, ``status`` active) of each
    opioid ingredient, by reference. Pure."""
    index = medications_index(resources)
    found: dict[str, list[str]] = {}
    for resource in resources:
        if resource.get("resourceType") != "MedicationRequest":
            continue
        if resource.get("intent") != "plan" or resource.get("status") != "active":
            continue
        identified = identify_medication(resource, catalogue, medications=index)
        if identified.ingredient and identified.drug_class is DrugClass.OPIOID:
            found.setdefault(identified.ingredient, []).append(identified.reference)
    return found


def _expected(
    s: UnitOfWork, plans: Sequence[Mapping[str, Any]], listed_at: datetime, catalogue: ProductCatalogue
) -> tuple[Counter[str], bool]:
    """Per ingredient, the active authorisations the plans expect now (one per regimen item not stopped by
    a step written back by ``listed_at``); and whether any step has been written back."""
    expected: Counter[str] = Counter()
    written = False
    for plan in plans:
        items: dict[str, tuple[str | None, int]] = {}  # regimen item -> (ingredient, authorisations)
        for step in plan_steps(s, plan):
            proposal = repository(s).find(s.conn, step.proposal, s.tenants) if step.proposal else None
            if proposal is None:
                continue
            ingredient, count = items.get(step.item, (identify_medication(proposal, catalogue).ingredient, 1))
            if step.approved and step.date <= listed_at.date():
                written = True
                count = 0 if step.action == "stop" else max(len(step.outcomes), 1)
            items[step.item] = (ingredient, count)
        for ingredient, count in items.values():
            if ingredient:
                expected[ingredient] += count
    return expected, written


def reconcile_gp_record(
    s: UnitOfWork, patient: str, resources: Sequence[Mapping[str, Any]], listed_at: datetime
) -> dict[str, Any] | None:
    """Check the GP record just read against the patient's taper; the Task opened when it does not match."""
    plans = repository(s).taper_plans(s.conn, patient, s.tenants, WRITTEN_PLAN_STATUSES)
    if not plans:
        return None
    catalogue = load_product_catalogue()
    expected, written = _expected(s, plans, listed_at, catalogue)
    if not written:
        return None
    actual = authorisation_counts(resources, catalogue)
    wrong = {i: (n, actual.get(i, [])) for i, n in expected.items() if len(actual.get(i, [])) != n}
    if not wrong:
        return None
    plan = plans[0]
    plan_ref = f"CarePlan/{plan['id']}"
    if any(
        t.get("description") == _DESCRIPTION for t in repository(s).open_tasks(s.conn, plan_ref, s.tenants)
    ):
        return None
    words = "; ".join(
        f"{ingredient}: {len(found)} active authorisation(s) in the GP record, {n} expected"
        for ingredient, (n, found) in sorted(wrong.items())
    )
    implicated = sorted({ref for _, found in wrong.values() for ref in found})
    s.create(
        {
            "resourceType": "DetectedIssue",
            "status": "final",
            "code": {"coding": [coding(RISK_CODES, MISMATCH, RISK_DISPLAY[MISMATCH])], "text": words},
            "severity": "high",
            "patient": {"reference": patient},
            "identifiedDateTime": format_instant(s.now),
            "implicated": [{"reference": ref} for ref in implicated],
            "detail": (
                f"After the dose reduction was written back the GP record reads: {words}. "
                "Stop the duplicate (or re-issue the agreed prescription) so only one is issued."
            ),
        }
    )
    task = s.create(
        gp_task(
            REVIEW,
            patient=patient,
            focus=plan_ref,
            practice=s.practice,
            authored=s.now,
            description=_DESCRIPTION,
            summary=f"The GP record does not match the agreed opioid dose reduction: {words}.",
            based_on=plan_ref,
        )
    )
    s.emit(GP_TASK_REQUESTED_V1, f"Task/{task['id']}", task)
    return task
