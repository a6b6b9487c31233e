"""R4 resources <-> medreview's domain objects (the anti-corruption layer); pure, plain dicts."""

from services.medreview.fhir_mapping.prescriptions import (
    dose_text,
    order_from_proposal,
    product_concept,
    step_proposal,
)
from services.medreview.fhir_mapping.quantities import daily_ome, decimal_of, instant, number, quantity
from services.medreview.fhir_mapping.review import (
    detected_issue,
    medication_names,
    ome_observation,
    review_bundle,
    review_parameters,
    total_ome_code,
)
from services.medreview.fhir_mapping.taper_plan import (
    StepRecord,
    policy_extension,
    policy_of,
    step_activity,
    steps_of,
    taper_careplan,
    taper_category,
)
from services.medreview.fhir_mapping.tasks import (
    APPROVE_STEP,
    REVIEW,
    Decision,
    Outcome,
    gp_task,
    outcome_of,
    task_identifier,
)

__all__ = [
    "APPROVE_STEP",
    "REVIEW",
    "Decision",
    "Outcome",
    "StepRecord",
    "daily_ome",
    "decimal_of",
    "detected_issue",
    "dose_text",
    "gp_task",
    "instant",
    "medication_names",
    "number",
    "ome_observation",
    "order_from_proposal",
    "outcome_of",
    "policy_extension",
    "policy_of",
    "product_concept",
    "quantity",
    "review_bundle",
    "review_parameters",
    "step_activity",
    "step_proposal",
    "steps_of",
    "taper_careplan",
    "taper_category",
    "task_identifier",
    "total_ome_code",
]
