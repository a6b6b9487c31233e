"""The FHIR search grammar, fuzzed (hypothesis, bounded): random parameters, modifiers, prefixes, huge
and negative numbers, long and odd lists, on the embedded system: 0 server errors, and every refusal
an OperationOutcome."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from painreview.embedded import EmbeddedSystem
from shared.fhir.searchparams import SearchParams
from tests.support.tokens import Tokens

TYPES = ("Patient", "MedicationRequest", "ServiceRequest", "Observation", "Task")
RESULT = ["_count", "_offset", "_sort", "_include", "_revinclude", "_summary", "_total", "_format"]
MODIFIERS = ["", ":exact", ":contains", ":missing", ":not", ":text", ":above", ":Patient", ":iterate", "::"]
NUMBERS = [
    "0",
    "-1",
    "1e20",
    "9223372036854775808",
    "99999999999999999999999999",
    "1.5",
    "\u00b2",
    " 7",
    "0x10",
]
DATES = [
    "2024",
    "2024-13-01",
    "ge2024-01-01",
    "xx2024",
    "lt",
    "2024-01-01T25:00",
    "eb1900-01-01",
    "9999-12-31",
]
ODD = [
    "",
    ",",
    ",,,",
    "\\",
    "\\,",
    "|",
    "||",
    "a|b|c",
    "%00",
    "\x00",
    "'; drop table x;--",
    "Patient/../x",
    "🙂",
]

values = st.one_of(
    st.sampled_from(NUMBERS + DATES + ODD),
    st.text(max_size=40),
    st.lists(st.sampled_from([*NUMBERS, "9990000018", "x"]), min_size=2, max_size=150).map(",".join),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)


def _keys(resource_type: str) -> st.SearchStrategy[str]:
    names = sorted(SearchParams.standard().of(resource_type)) + RESULT + ["unknown", "_id", "_lastUpdated"]
    return st.tuples(st.sampled_from(names), st.sampled_from(MODIFIERS)).map("".join) | st.text(max_size=12)


@settings(
    max_examples=250, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
@given(data=st.data(), resource_type=st.sampled_from(TYPES))
def test_no_search_is_a_server_error(
    secured: tuple[EmbeddedSystem, TestClient, Tokens], data: st.DataObject, resource_type: str
) -> None:
    _system, client, tokens = secured
    paging = st.tuples(st.sampled_from(["_count", "_offset"]), st.sampled_from(NUMBERS) | values)
    items = data.draw(st.lists(st.tuples(_keys(resource_type), values) | paging, max_size=8))
    url = f"/referral/fhir/{resource_type}?{urlencode(items)}"
    response = client.get(url, headers={"authorization": f"Bearer {tokens.valid()}"})
    assert response.status_code < 500, (url[:300], response.text[:300])
    assert response.headers["content-type"].startswith("application/fhir+json"), url[:300]
    assert response.json()["resourceType"] in ("Bundle", "OperationOutcome")
