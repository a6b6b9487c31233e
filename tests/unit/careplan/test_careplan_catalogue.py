"""The published reference data: valid R4, the catalogue complete, external codes only where checked."""

from __future__ import annotations

import pytest

from services.careplan.domain.catalogue import definitions, interventions, role_coding
from shared.fhir import validate_resource

WITHIN_SESSION = {
    "pain-management-book",
    "oad-worksheets",
    "de-scripting",
    "exercise-planning",
    "sleep-hygiene",
    "pacing",
    "mindfulness-relaxation",
    "goal-setting",
}
COMMUNITY = {
    "physiotherapy",
    "relaxation-group",
    "voluntary-work",
    "assistance-dog-application",
    "men-in-sheds",
    "gym-physical-activity",
    "financial-benefits-advice",
}
# The only SNOMED CT concepts used, each checked (services/careplan/data/README.md).
CHECKED_SNOMED = {"278414003", "229065009", "91251008", "62247001", "768839008", "80584001"}


@pytest.mark.parametrize("resource", definitions(), ids=lambda r: f"{r['resourceType']}/{r['id']}")
def test_every_published_resource_is_valid_r4_with_a_canonical_url(resource: dict[str, object]) -> None:
    validate_resource(resource)
    assert str(resource["url"]).startswith("https://pain-review.example.org/fhir/")
    assert resource["status"] == "active"


def test_the_catalogue_holds_the_papers_within_session_and_community_interventions() -> None:
    catalogue = interventions()
    assert {c for c, i in catalogue.items() if i.setting == "within-session"} == WITHIN_SESSION
    assert {c for c, i in catalogue.items() if i.setting == "community"} == COMMUNITY


def test_code_system_counts_match_their_concepts() -> None:
    for resource in definitions():
        if resource["resourceType"] == "CodeSystem":
            assert resource["count"] == len(resource["concept"]), resource["id"]


def test_only_checked_snomed_codes_appear_in_the_data() -> None:
    found = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("system") == "http://snomed.info/sct":
                found.add(node["code"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for resource in definitions():
        walk(resource)
    walk([i.concept() for i in interventions().values()])
    assert found <= CHECKED_SNOMED


def test_roles_carry_a_snomed_occupation_except_the_project_worker() -> None:
    assert len(role_coding("general-practitioner")["coding"]) == 2
    assert len(role_coding("project-worker")["coding"]) == 1


def test_the_plan_categories_include_the_code_medreview_gives_its_taper_plans() -> None:
    from services.medreview.fhir_mapping import taper_category
    from services.medreview.fhir_mapping.codes import CAREPLAN_CATEGORY, MEDICATION_REVIEW

    [system] = [
        r for r in definitions() if r["resourceType"] == "CodeSystem" and r["url"] == CAREPLAN_CATEGORY
    ]
    codes = {c["code"]: c for c in system["concept"]}
    assert {"pain-management", "social-prescribing", MEDICATION_REVIEW} <= set(codes)
    [local] = [c for c in taper_category()["coding"] if c["system"] == CAREPLAN_CATEGORY]
    assert local["display"] == codes[MEDICATION_REVIEW]["display"]
