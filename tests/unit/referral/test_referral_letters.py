"""Invitation letters: the practice's template is checked, filled per patient and rendered as PDF."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.referral.domain.letters import letter_pdf
from services.referral.domain.wording import default_invitation_template
from services.referral.operations.invitations import check_template, patient_name, render_letter
from shared.fhir import FhirError

NOW = datetime(2024, 6, 15, 9, 30, tzinfo=UTC)
DETAILS = {
    "practice_name": "Riverside Medical Centre",
    "practice_address": "1 Station Road, Yate, BS37 0AA",
    "gp_name": "Dr Priya Shah",
    "project_worker_name": "Sam Jones",
    "contact_phone": "01454 000000",
}


def test_the_default_letter_passes_the_check_and_is_filled_for_the_patient() -> None:
    check_template(default_invitation_template(), DETAILS)
    letter = render_letter(default_invitation_template(), DETAILS, {"name": [{"text": "Ms Alex Test"}]}, NOW)
    assert "Dear Ms Alex Test," in letter and "15 June 2024" in letter and "$" not in letter


def test_a_template_is_refused_with_one_issue_per_offending_phrase_in_order() -> None:
    with pytest.raises(FhirError) as caught:
        check_template("An addict? Drug abuse? We will stop your prescription.", {})
    issues = caught.value.to_operation_outcome()["issue"]
    assert [i["diagnostics"].split("'")[1] for i in issues] == [
        "addict",
        "Drug abuse",
        "stop your prescription",
    ]
    assert caught.value.status == 422


def test_placeholders_nobody_fills_are_refused_but_extra_details_may_fill_them() -> None:
    with pytest.raises(FhirError, match="surgery_hours"):
        check_template("Open $surgery_hours", {})
    check_template("Open $surgery_hours", {"surgery_hours": "8am to 6pm"})


@pytest.mark.parametrize(
    ("patient", "name"),
    [
        ({"name": [{"text": "Mrs Julie Jones"}]}, "Mrs Julie Jones"),
        ({"name": [{"prefix": ["Mr"], "given": ["Alex", "J"], "family": "Test"}]}, "Mr Alex J Test"),
        ({"name": [{"family": "Test"}]}, "Test"),
        ({}, "Patient"),
    ],
)
def test_the_letter_greets_the_patient_by_the_name_on_record(patient: dict[str, object], name: str) -> None:
    assert patient_name(patient) == name


def test_a_letter_renders_as_a_pdf_even_with_characters_the_pdf_fonts_lack() -> None:
    patient = {"name": [{"text": "Zo\u00eb O\u2019Neill \u2713"}]}  # e-diaeresis, curly quote, tick
    text = render_letter(default_invitation_template(), DETAILS, patient, NOW)
    pdf = letter_pdf(text)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 1000
