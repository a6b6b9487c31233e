"""Acceptability per construct (pure): answers 1 to 5 by construct, anything else refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.careplan.domain.acceptability import CONSTRUCTS, AcceptabilityError, construct_scores

QUESTIONNAIRE = (
    Path(__file__).parents[3] / "services" / "careplan" / "data" / "questionnaire-acceptability.json"
)


def test_the_questionnaire_asks_one_statement_per_construct_of_the_papers_framework() -> None:
    questionnaire = json.loads(QUESTIONNAIRE.read_text(encoding="utf-8"))
    # the seven constructs of the framework the paper cites (its reference 47)
    assert [item["linkId"] for item in questionnaire["item"]] == [
        "affective-attitude",
        "burden",
        "ethicality",
        "intervention-coherence",
        "opportunity-costs",
        "perceived-effectiveness",
        "self-efficacy",
    ]
    assert [c.code for c in CONSTRUCTS] == [item["linkId"] for item in questionnaire["item"]]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, {}),
        ({"affective-attitude": 5, "burden": 2}, {"affective-attitude": 5, "burden": 2}),
        ({"self-efficacy": 1, "comment": "not a construct"}, {"self-efficacy": 1}),
        ({c.code: 3 for c in CONSTRUCTS}, {c.code: 3 for c in CONSTRUCTS}),
    ],
)
def test_answered_constructs_are_scored_as_answered(
    answers: dict[str, Any], expected: dict[str, int]
) -> None:
    assert construct_scores(answers) == expected


@pytest.mark.parametrize("answer", [0, 6, True, "4", 3.5, None])
def test_an_answer_that_is_not_a_whole_number_from_1_to_5_is_refused(answer: Any) -> None:
    with pytest.raises(AcceptabilityError, match="Burden is answered 1"):
        construct_scores({"burden": answer})
