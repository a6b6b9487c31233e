"""SMART scope syntax (v2 and v1 aliases) and how a token request's scopes are narrowed."""

from __future__ import annotations

import pytest

from shared.auth import Principal, Scope, narrow_scopes, parse_scopes
from shared.auth.authenticator import require
from shared.core.errors import Forbidden


@pytest.mark.parametrize(
    ("text", "resource", "letters"),
    [
        ("system/Patient.rs", "Patient", "rs"),
        ("system/Patient.cruds", "Patient", "cruds"),
        ("system/*.r", "*", "r"),
        ("system/Observation.rs?category=laboratory", "Observation", "rs"),  # granular part ignored
        ("system/Patient.read", "Patient", "rs"),
        ("system/Patient.write", "Patient", "cud"),
        ("system/*.*", "*", "cruds"),
    ],
)
def test_a_scope_parses_to_its_resource_and_interactions(text: str, resource: str, letters: str) -> None:
    assert Scope.parse(text) == Scope(resource, frozenset(letters))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    ["launch", "openid", "system/Patient.sr", "system/Patient.rr", "system/patient.r", "Patient.r", ""],
)
def test_a_scope_that_grants_nothing_here_parses_to_none(text: str) -> None:
    assert Scope.parse(text) is None


@pytest.mark.parametrize(
    ("requested", "registered", "granted"),
    [
        ("system/Patient.rs", "system/Patient.cruds", "system/Patient.rs"),
        ("system/Patient.cruds", "system/Patient.rs", "system/Patient.rs"),
        ("system/*.rs", "system/Patient.cruds system/Condition.r", "system/Condition.r system/Patient.rs"),
        ("system/Patient.read", "system/*.cruds", "system/Patient.rs"),
        ("system/*.cruds", "system/*.rs", "system/*.rs"),
        ("system/AuditEvent.rs", "system/Patient.cruds", ""),
        ("user/Patient.rs patient/*.read launch", "system/*.cruds", ""),
        ("system/Patient.r system/Patient.s", "system/Patient.rs", "system/Patient.rs"),
    ],
)
def test_granted_scopes_are_the_requested_ones_within_those_registered(
    requested: str, registered: str, granted: str
) -> None:
    assert narrow_scopes(requested, registered) == granted


def test_require_names_the_missing_scope() -> None:
    caller = Principal("gp-a", "A81001", "gp-system", parse_scopes("system/Patient.rs"))
    require(caller, "Patient", "r")
    with pytest.raises(Forbidden, match=r"system/Condition\.s"):
        require(caller, "Condition", "s")
