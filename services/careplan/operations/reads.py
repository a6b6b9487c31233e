"""Read-only operations: a patient's community budget, and the scores of an assessment.

* ``GET CarePlan/{id}/$budget``: Parameters ``budget``, ``committed``, ``remaining`` (Money, GBP).
* ``GET QuestionnaireResponse/{id}/$score``: PHQ-9 and GAD-7 totals and bands, PEG mean.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.careplan.domain.assessment import AssessmentError, answers_of, score_assessment
from services.careplan.domain.budget import BudgetError, budget_of, position
from services.careplan.repository import patient_resources
from services.careplan.write_rules import WriteRules, is_community_request
from shared.fhir import FhirKernel, OperationCall, UnitOfWork, Unprocessable

__all__ = ["ReadOperations"]


def _money(value: Decimal) -> dict[str, Any]:
    return {"value": float(value), "currency": "GBP"}


class ReadOperations:
    def __init__(self, kernel: FhirKernel, rules: WriteRules) -> None:
        self.kernel, self.rules = kernel, rules

    def register(self) -> None:
        k = self.kernel
        k.operation(
            "budget",
            self.budget,
            level="instance",
            resource_type="CarePlan",
            scope=("CarePlan", "r"),
            methods=("GET",),
            documentation="The patient's community budget, committed spend and what remains (GBP)",
        )
        k.operation(
            "score",
            self.score,
            level="instance",
            resource_type="QuestionnaireResponse",
            scope=("QuestionnaireResponse", "r"),
            methods=("GET",),
            documentation="PHQ-9 and GAD-7 totals and severity bands, PEG mean, of an assessment",
        )

    # ---- $budget --------------------------------------------------------------------------------
    def budget(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        plan = uow.read("CarePlan", str(call.resource_id))
        patient = str((plan.get("subject") or {}).get("reference"))
        uow.patient = patient
        requests = [
            r
            for r in patient_resources(uow.conn, "ServiceRequest", patient, uow.tenants)
            if is_community_request(r)
        ]
        budget = budget_of(plan, self.rules.default_budget)
        try:
            where = position(budget, requests)
        except BudgetError as exc:
            raise Unprocessable(str(exc)) from None
        return {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "budget", "valueMoney": _money(where.budget)},
                {"name": "committed", "valueMoney": _money(where.committed)},
                {"name": "remaining", "valueMoney": _money(where.remaining)},
            ],
        }

    # ---- $score ---------------------------------------------------------------------------------
    def score(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        response = uow.read("QuestionnaireResponse", str(call.resource_id))
        uow.patient = (response.get("subject") or {}).get("reference")
        try:
            scores = score_assessment(answers_of(response.get("item") or []))
        except AssessmentError as exc:
            raise Unprocessable(str(exc)) from None
        parts: list[dict[str, Any]] = []
        if scores.phq9_total is not None:
            parts += [
                {"name": "phq9Total", "valueInteger": scores.phq9_total},
                {"name": "phq9Severity", "valueCode": scores.phq9_severity},
                {"name": "phq9Item9Positive", "valueBoolean": scores.phq9_item9_positive},
            ]
        if scores.gad7_total is not None:
            parts += [
                {"name": "gad7Total", "valueInteger": scores.gad7_total},
                {"name": "gad7Severity", "valueCode": scores.gad7_severity},
            ]
        if scores.peg_mean is not None:
            parts.append({"name": "pegMean", "valueDecimal": float(scores.peg_mean)})
        return {"resourceType": "Parameters", "parameter": parts}
