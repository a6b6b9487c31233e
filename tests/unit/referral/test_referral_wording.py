"""Invitation wording: what patients in the evaluation found stigmatising or threatening is caught."""

from __future__ import annotations

import pytest

from services.referral.domain.eligibility import load_data
from services.referral.domain.wording import (
    MissingPlaceholderError,
    default_invitation_template,
    find_offending_phrases,
    placeholders,
    render_invitation,
)

VALUES = {
    "practice_name": "Riverside Medical Centre",
    "practice_address": "1 Station Road, Yate, BS37 0AA",
    "letter_date": "15 June 2024",
    "patient_name": "Ms Alex Testpatient",
    "project_worker_name": "Sam Jones",
    "contact_phone": "01454 000000",
    "gp_name": "Dr Priya Shah",
}


def test_the_default_invitation_passes_the_wording_check() -> None:
    assert find_offending_phrases(default_invitation_template()) == []


def test_the_default_invitation_rendered_for_a_patient_passes_the_wording_check() -> None:
    letter = render_invitation(default_invitation_template(), VALUES)
    assert find_offending_phrases(letter) == []
    assert "$" not in letter
    assert "on behalf of Riverside Medical Centre" in letter
    assert "Taking part is your choice" in letter


def test_the_default_invitation_comes_from_the_gp_practice_and_leaves_out_the_file_notes() -> None:
    template = default_invitation_template()
    assert not template.startswith("#")
    assert placeholders(template) == [
        "practice_name",
        "practice_address",
        "letter_date",
        "patient_name",
        "project_worker_name",
        "contact_phone",
        "gp_name",
    ]


@pytest.mark.parametrize(
    ("text", "phrase", "category"),
    [
        ("You may be an addict.", "addict", "stigmatising"),
        ("Many people become ADDICTED to painkillers.", "addict", "stigmatising"),
        ("Support for your addiction", "addiction", "stigmatising"),
        ("not for junkies", "junkie", "stigmatising"),
        ("a history of abuse", "abuse", "stigmatising"),
        ("opioid misuse clinic", "misuse", "stigmatising"),
        ("drug-seeking behaviour", "drug seeking", "stigmatising"),
        ("We will stop your prescription.", "stop your prescription", "threatening"),
        ("Your prescription will be stopped next month.", "your prescription will be stopped", "threatening"),
        ("We plan to withdraw your medication.", "withdraw your medication", "threatening"),
        ("The GP will no longer prescribe codeine.", "take you off", "threatening"),
        ("Failure to attend will be reported.", "you must attend", "coercive"),
        ("Run with Battle Against Tranquillisers.", "Battle Against Tranquillisers", "alarming-provider"),
        ("Run with Battling Against Tranquilizers.", "Battle Against Tranquillisers", "alarming-provider"),
        ("Our partners at BAT will call you.", "BAT", "alarming-provider"),
    ],
)
def test_each_kind_of_offending_wording_is_found_where_it_is(text: str, phrase: str, category: str) -> None:
    (finding,) = find_offending_phrases(text)
    assert (finding.phrase, finding.category) == (phrase, category)
    assert text[finding.start : finding.end] == finding.matched
    assert finding.why


@pytest.mark.parametrize(
    "text",
    [
        "We combat pain together; a cricket bat is not a provider.",
        "Abusers? No: 'disabuse' and 'misusage' are other words.",
        "Tell us what matters to you; nothing changes unless you agree.",
        "Tranquillisers and sleeping pills can be talked through with your GP.",
    ],
)
def test_words_that_only_contain_an_offending_phrase_are_not_flagged(text: str) -> None:
    found = [f.matched for f in find_offending_phrases(text)]
    assert found == (["Abusers"] if text.startswith("Abusers") else [])


def test_a_phrase_split_across_a_line_break_is_still_found_with_exact_positions() -> None:
    text = "Dear Alex,\nthe practice may\nstop   your\nprescription if you decline."
    (finding,) = find_offending_phrases(text)
    assert finding.phrase == "stop your prescription"
    assert text[finding.start : finding.end] == "stop   your\nprescription"


def test_overlapping_phrases_are_reported_once_as_the_longest() -> None:
    text = "This is a drug abuse service, not a substance misuse one."
    assert [(f.matched, f.phrase) for f in find_offending_phrases(text)] == [
        ("drug abuse", "abuse"),
        ("substance misuse", "misuse"),
    ]


def test_findings_come_in_order_of_position() -> None:
    text = "Battle Against Tranquillisers will stop your medication because of your addiction."
    findings = find_offending_phrases(text)
    assert [f.phrase for f in findings] == [
        "Battle Against Tranquillisers",
        "stop your prescription",
        "addiction",
    ]
    assert [f.start for f in findings] == sorted(f.start for f in findings)


def test_typographic_quotes_and_dashes_do_not_hide_a_phrase() -> None:
    text = "You\u2019re not a \u2018drug\u2010seeker\u2019."
    (finding,) = find_offending_phrases(text)
    assert finding.phrase == "drug seeking"
    assert text[finding.start : finding.end] == "drug\u2010seeker"


def test_a_template_that_names_the_alarming_provider_fails_the_check() -> None:
    template = default_invitation_template() + "\nIn partnership with Battle Against Tranquillisers (BAT).\n"
    assert [f.category for f in find_offending_phrases(template)] == [
        "alarming-provider",
        "alarming-provider",
    ]


def test_rendering_lists_every_placeholder_left_without_a_value() -> None:
    values = {k: v for k, v in VALUES.items() if k not in ("gp_name", "contact_phone")}
    with pytest.raises(MissingPlaceholderError) as error:
        render_invitation(default_invitation_template(), values)
    assert error.value.missing == ["contact_phone", "gp_name"]


def test_rendering_is_plain_substitution_with_dollar_escapes() -> None:
    assert render_invitation("Dear ${name}, it costs $$0.", {"name": "Alex"}) == "Dear Alex, it costs $0."


def test_every_phrase_entry_has_a_category_forms_a_reason_and_a_named_source() -> None:
    data = load_data("wording-phrases.json")
    categories = {"stigmatising", "threatening", "coercive", "alarming-provider"}
    for entry in data["phrases"]:
        assert entry["category"] in categories and entry["forms"] and entry["why"]
        assert entry["source"] in data["sources"]
