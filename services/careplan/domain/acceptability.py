"""Acceptability of the service per construct, from ``Questionnaire/pain-review-acceptability``.

Pure. The seven constructs are those of the acceptability framework the service evaluation used (the
Theoretical Framework of Acceptability, the paper's reference 47); each is one statement answered 1
(strongly disagree) to 5 (strongly agree), linkId = the construct's code. Any statement may be left
unanswered; an answer that is not a whole number from 1 to 5 is refused. For burden and opportunity
costs agreeing means *less* acceptable: the scores are reported as answered, with the direction beside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CONSTRUCTS", "AcceptabilityError", "Construct", "construct_scores"]


@dataclass(frozen=True, slots=True)
class Construct:
    code: str
    display: str
    higher_is_more_acceptable: bool


CONSTRUCTS = (
    Construct("affective-attitude", "Affective attitude", True),
    Construct("burden", "Burden", False),
    Construct("ethicality", "Ethicality", True),
    Construct("intervention-coherence", "Intervention coherence", True),
    Construct("opportunity-costs", "Opportunity costs", False),
    Construct("perceived-effectiveness", "Perceived effectiveness", True),
    Construct("self-efficacy", "Self-efficacy", True),
)
LOWEST, HIGHEST = 1, 5


class AcceptabilityError(ValueError):
    """An answer that is not a whole number from 1 to 5 (the API answers 422)."""


def construct_scores(answers: Mapping[str, Any]) -> dict[str, int]:
    """Each answered construct's score (1 to 5), from answers by linkId (other linkIds are ignored)."""
    scores: dict[str, int] = {}
    for construct in CONSTRUCTS:
        if construct.code not in answers:
            continue
        value = answers[construct.code]
        if isinstance(value, bool) or not isinstance(value, int) or not LOWEST <= value <= HIGHEST:
            raise AcceptabilityError(
                f"{construct.display} is answered {LOWEST} (strongly disagree) to {HIGHEST} "
                f"(strongly agree), not {value!r}"
            )
        scores[construct.code] = value
    return scores
