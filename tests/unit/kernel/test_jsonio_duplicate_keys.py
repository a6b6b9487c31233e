"""Duplicate keys in a JSON body: refused with a 400 naming the key, wherever the object sits, whatever the
spacing; and no body without one is refused, including strings that look like a key's end (a string
beginning with a colon, an escaped quote before a colon), which make ``loads`` take its exact check."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core.errors import BadRequest
from shared.fhir.jsonio import loads


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"a": 1, "a": 2}', "a"),
        (b'{"a":1,"b":{"c":[{"d":1,"d":1}]}}', "d"),
        (b'[{"x": 1}, {"y": 2, "y" : 3}]', "y"),
        (b'{\n  "k"\t:\r\n 1,\n  "k" : 2\n}', "k"),
        # a string opening with a colon is one match more than there are keys; the duplicate still counts
        (b'{"a": ": x", "b": 1, "b": 2}', "b"),
        (b'{"a": "say \\":\\" twice", "a": 0}', "a"),
    ],
)
def test_a_key_named_twice_in_one_object_is_refused_naming_it(body: bytes, key: str) -> None:
    with pytest.raises(BadRequest, match=f"names the key '{key}' more than once"):
        loads(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": ": x", "b": 1}', {"a": ": x", "b": 1}),
        (b'{"a" : " : ", "b": "\\":"}', {"a": " : ", "b": '":'}),
        (b'{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}', {"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}),
        (b'{"time": "12:30:00", "url": "urn:uuid:1"}', {"time": "12:30:00", "url": "urn:uuid:1"}),
        (b"[]", []),
        (b"{}", {}),
    ],
)
def test_the_same_key_in_different_objects_and_colons_in_strings_are_accepted(
    body: bytes, expected: object
) -> None:
    assert loads(body) == expected


# Bodies written by hand-rolled JSON text, so that keys repeat, strings hold quotes, backslashes and colons,
# and whitespace sits where JSON allows it: the refusal must be exactly the standard library's view of
# the text (every object's pairs, as parsed), whichever path `loads` takes to it.
_KEYS = st.text(alphabet=["a", "b", ":", '"', "\\", " "], max_size=3).map(json.dumps)
_SPACE = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])
_LEAVES = st.one_of(_KEYS, st.sampled_from(["1", "true", "null", "[]", "{}"]))


def _object(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    member = st.tuples(_SPACE, _KEYS, _SPACE, _SPACE, children).map(
        lambda m: f"{m[0]}{m[1]}{m[2]}:{m[3]}{m[4]}"
    )
    return st.lists(member, max_size=4).flatmap(
        lambda members: st.sampled_from([members, [*members, *members[:1]]]).map(
            lambda chosen: "{" + ",".join(chosen) + "}"
        )
    )


_BODIES = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"), _object(children)
    ),
    max_leaves=12,
)


def _names_a_key_twice(text: str) -> bool:
    twice = False

    def pairs(found: list[tuple[str, object]]) -> dict[str, object]:
        nonlocal twice
        twice = twice or len({k for k, _ in found}) != len(found)
        return dict(found)

    json.loads(text, object_pairs_hook=pairs)
    return twice


@settings(max_examples=400)
@given(_BODIES)
def test_a_body_is_refused_exactly_when_some_object_names_a_key_twice(text: str) -> None:
    if _names_a_key_twice(text):
        with pytest.raises(BadRequest, match="more than once"):
            loads(text.encode())
    else:
        assert loads(text.encode()) == json.loads(text)
