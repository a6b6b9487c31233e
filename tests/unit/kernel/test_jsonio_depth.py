"""The JSON nesting limit: MAX_DEPTH objects and arrays are read, one more is a 400."""

from __future__ import annotations

import pytest

from shared.core.errors import BadRequest
from shared.fhir.jsonio import MAX_DEPTH, loads


def nested(depth: int, *, wide: bool = False) -> bytes:
    """``depth`` objects and arrays, alternating, innermost first; ``wide`` puts siblings beside each."""
    text = "1"
    for level in range(depth):
        if level % 2:
            text = f'{{"a": {text}, "b": [], "c": "x"}}' if wide else f'{{"a": {text}}}'
        else:
            text = f"[0, {text}, {{}}]" if wide and level else f"[{text}]"
    return text.encode()


@pytest.mark.parametrize("wide", [False, True])
def test_max_depth_is_read_and_one_more_is_refused(wide: bool) -> None:
    assert loads(nested(MAX_DEPTH, wide=wide)) is not None
    with pytest.raises(BadRequest, match=f"nested more than {MAX_DEPTH} levels"):
        loads(nested(MAX_DEPTH + 1, wide=wide))


def test_a_deep_hostile_body_is_refused_without_exhausting_the_stack() -> None:
    with pytest.raises(BadRequest, match="nested more than"):
        loads(b"[" * 1000 + b"]" * 1000)
    with pytest.raises(BadRequest):  # past orjson's own limit: refused by the parser
        loads(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_the_limit_counts_the_outer_value_itself(limit: int) -> None:
    assert loads(nested(limit), max_depth=limit) is not None
    with pytest.raises(BadRequest):
        loads(nested(limit + 1), max_depth=limit)
    assert loads(b'"a string"', max_depth=limit) == "a string"
