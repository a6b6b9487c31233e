"""Domain rules on writes, run in the write's own transaction: the kernel's ``on_write`` for the REST API
(``careplan_written`` etc.), and called by the operations that write the same resources (``plan_written``).

* CarePlan (pain management plans): status and activity rules, known intervention codes, and
  ``careplan.updated`` on every change.
* ServiceRequest (community services, social prescribing): the patient's budget is never overspent.
* QuestionnaireResponse (the assessment): answers in range, supplied scores equal computed ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from services.careplan.domain.acceptability import AcceptabilityError, construct_scores
from services.careplan.domain.activities import PlanRuleError, check_plan_update, intervention_codes
from services.careplan.domain.assessment import (
    GAD7_TOTAL,
    PEG_MEAN,
    PHQ9_TOTAL,
    AssessmentError,
    answers_of,
    score_assessment,
)
from services.careplan.domain.budget import BudgetError, budget_of, position
from services.careplan.domain.catalogue import (
    ACCEPTABILITY_QUESTIONNAIRE,
    ASSESSMENT_QUESTIONNAIRE,
    INTERVENTION_SYSTEM,
    interventions,
)
from services.careplan.repository import (
    is_community_request,
    is_pain_plan,
    lock,
    pain_plan_for,
    patient_resources,
)
from shared.contracts import CAREPLAN_UPDATED_V1
from shared.fhir import FhirKernel, RequestContext, UnitOfWork, Unprocessable

__all__ = ["WriteRules", "is_community_request"]


@dataclass
class WriteRules:
    kernel: FhirKernel
    default_budget: Decimal

    @staticmethod
    def previous(uow: UnitOfWork, stored: dict[str, Any]) -> dict[str, Any] | None:
        version = int(stored["meta"]["versionId"])
        if version <= 1:
            return None
        return uow.vread(f"{stored['resourceType']}/{stored['id']}", version - 1)

    # ---- CarePlan ---------------------------------------------------------------------------
    def check_plan(self, uow: UnitOfWork, plan: dict[str, Any]) -> None:
        """The plan rules between the stored plan's previous version and this one (422 when broken)."""
        try:
            check_plan_update(self.previous(uow, plan), plan)
        except PlanRuleError as exc:
            raise Unprocessable(str(exc), expression=["CarePlan"]) from None
        catalogue = interventions()
        for activity in plan.get("activity") or []:
            for system, code in intervention_codes(activity):
                if system == INTERVENTION_SYSTEM and code not in catalogue:
                    raise Unprocessable(
                        f"'{code}' is not in the intervention catalogue ({INTERVENTION_SYSTEM}); "
                        "a practice's own interventions use its own CodeSystem",
                        expression=["CarePlan.activity.detail.code"],
                    )

    def plan_written(self, uow: UnitOfWork, plan: dict[str, Any]) -> None:
        """A pain management plan created or updated: the plan rules, then ``careplan.updated``."""
        if not is_pain_plan(plan):
            return
        self.check_plan(uow, plan)
        # The event carries the plan's owner (staff write on behalf of each assigned practice).
        owner = uow.practice_of(f"CarePlan/{plan['id']}") or uow.ctx.principal.practice
        uow.emit(CAREPLAN_UPDATED_V1, f"CarePlan/{plan['id']}", plan, practice=owner)

    def careplan_written(
        self, conn: Connection, ctx: RequestContext, plan: dict[str, Any], interaction: str
    ) -> None:
        """The kernel's ``on_write`` for CarePlan."""
        if interaction != "delete":
            self.plan_written(UnitOfWork(self.kernel, conn, ctx), plan)

    # ---- ServiceRequest: community services against the budget ---------------------------------
    def service_request_written(
        self, conn: Connection, ctx: RequestContext, request: dict[str, Any], interaction: str
    ) -> None:
        if interaction == "delete" or not is_community_request(request):
            return
        patient = (request.get("subject") or {}).get("reference")
        if not isinstance(patient, str) or not patient.startswith("Patient/"):
            raise Unprocessable(
                "a community referral's subject is the Patient", expression=["ServiceRequest.subject"]
            )
        plan = pain_plan_for(conn, patient, ctx.tenants)
        if plan is not None:
            lock(conn, "CarePlan", plan["id"])  # one spend decision per patient at a time
        requests = [
            r
            for r in patient_resources(conn, "ServiceRequest", patient, ctx.tenants)
            if is_community_request(r)
        ]
        try:
            position(budget_of(plan, self.default_budget), requests)
        except BudgetError as exc:
            raise Unprocessable(str(exc), expression=["ServiceRequest.extension"]) from None

    # ---- QuestionnaireResponse: the assessment --------------------------------------------------
    def response_written(
        self, conn: Connection, ctx: RequestContext, response: dict[str, Any], interaction: str
    ) -> None:
        if interaction == "delete":
            return
        questionnaire = str(response.get("questionnaire", "")).split("|")[0]
        if questionnaire == ACCEPTABILITY_QUESTIONNAIRE:
            try:
                construct_scores(answers_of(response.get("item") or []))
            except AcceptabilityError as exc:
                raise Unprocessable(str(exc), expression=["QuestionnaireResponse.item"]) from None
            return
        if questionnaire != ASSESSMENT_QUESTIONNAIRE:
            return
        answers = answers_of(response.get("item") or [])
        try:
            scores = score_assessment(answers)
        except AssessmentError as exc:
            raise Unprocessable(str(exc), expression=["QuestionnaireResponse.item"]) from None
        computed = {PHQ9_TOTAL: scores.phq9_total, GAD7_TOTAL: scores.gad7_total, PEG_MEAN: scores.peg_mean}
        for link, value in computed.items():
            if link in answers and (value is None or Decimal(str(answers[link])) != Decimal(value)):
                raise Unprocessable(
                    f"the score {link} given ({answers[link]}) is not the computed one ({value})",
                    expression=["QuestionnaireResponse.item"],
                )
