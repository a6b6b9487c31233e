"""Duplicate keys in a JSON body: refused with a 400 naming the key, wherever the object sits, whatever the
spacing; and no body without one is refused, including strings that look like a key's end (a string
beginning with a colon, an escaped quote before a colon), which make ``loads`` take its exact check."""

from __future__ import annotations

import pytest

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
