"""One function per command or consumed event; each works in the kernel's unit of work (its transaction)."""

from services.medreview.workflow.decisions import decide_step, on_task_completed
from services.medreview.workflow.discharge import close_taper, on_patient_discharged
from services.medreview.workflow.gates import latest_mdt_review, record_mdt_review
from services.medreview.workflow.medication_list import (
    on_medication_list_synced,
    on_patient_enrolled,
    store_medication_list,
)
from services.medreview.workflow.pause import (
    on_withdrawal_score,
    pause_taper,
    resume_taper,
    slower,
    withdrawal_score,
)
from services.medreview.workflow.planning import APPROVAL_LEAD_DAYS, plan_steps
from services.medreview.workflow.review import (
    current_regimen,
    review_bundle_resources,
    review_patient,
    reviewed,
)
from services.medreview.workflow.step_back import step_back
from services.medreview.workflow.taper import inferred_pace, propose_taper

__all__ = [
    "APPROVAL_LEAD_DAYS",
    "close_taper",
    "current_regimen",
    "decide_step",
    "inferred_pace",
    "latest_mdt_review",
    "on_medication_list_synced",
    "on_patient_discharged",
    "on_patient_enrolled",
    "on_task_completed",
    "on_withdrawal_score",
    "pause_taper",
    "plan_steps",
    "propose_taper",
    "record_mdt_review",
    "resume_taper",
    "review_bundle_resources",
    "review_patient",
    "reviewed",
    "slower",
    "step_back",
    "store_medication_list",
    "withdrawal_score",
]
