"""Finding 6 (medium): size limits were bypassed. A 46 MB ``_search`` form was read whole, ``$screen`` had
no cap and one long NDJSON line cost quadratic time, and its Bundle route took JSON nested 20,000 deep.
Replayed as the attack: 413 or 400 as soon as the limit is passed, reading no more than it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from painreview.embedded import EmbeddedSystem, create_embedded_system
from services.referral.fhir_mapping.screen_input import ndjson_resources
from shared.auth.issuer import IssuerKeys
from shared.fhir import BadRequest, PayloadTooLarge
from tests.support.tokens import Tokens

SCREEN_LIMIT = 4 * 1024 * 1024  # above one line's limit (1 MiB)
NDJSON = "application/fhir+ndjson"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedSystem, TestClient, str]]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("REFERRAL_SCREEN_MAX_BODY_BYTES", str(SCREEN_LIMIT))
        system = create_embedded_system(tmp_path_factory.mktemp("var"))
    tokens = Tokens(system, IssuerKeys(system.auth.issuer_key_path, algorithm=system.auth.signing_algorithm))
    with TestClient(system.app) as client:
        yield system, client, tokens.valid()
    for parts in system.services.values():
        parts.engine.dispose()


def _chunks(total: int, piece: bytes) -> Iterator[bytes]:
    """A body sent as a stream of chunks (no Content-Length): the server must count as it reads."""
    sent = 0
    while sent < total:
        yield piece
        sent += len(piece)


def test_a_huge_search_form_is_refused_413_declared_or_streamed(
    small: tuple[EmbeddedSystem, TestClient, str],
) -> None:
    _system, client, token = small
    auth = {"authorization": f"Bearer {token}"}
    form = {"content-type": "application/x-www-form-urlencoded"}
    declared = client.post(
        "/referral/fhir/Patient/_search",
        headers={**auth, **form, "content-length": str(46 * 1024 * 1024)},
        content=b"a=b",
    )
    assert declared.status_code == 413
    streamed = client.post(
        "/referral/fhir/Patient/_search",
        headers={**auth, **form},
        content=_chunks(4 * 1024 * 1024, b"identifier=" + b"9" * 65_536),
    )
    assert streamed.status_code == 413, streamed.text
    multipart = client.post(
        "/referral/fhir/Patient/_search", headers=auth, files={"identifier": ("x", b"999")}
    )
    assert multipart.status_code == 415
    ok = client.post("/referral/fhir/Patient/_search", headers={**auth, **form}, content=b"_count=1")
    assert ok.status_code == 200 and ok.json()["resourceType"] == "Bundle"


def test_a_screen_body_past_its_limit_is_413_as_it_streams(
    small: tuple[EmbeddedSystem, TestClient, str],
) -> None:
    _system, client, token = small
    headers = {"authorization": f"Bearer {token}", "content-type": NDJSON}
    line = json.dumps({"resourceType": "Patient", "id": "p"}).encode() + b"\n"
    too_big = client.post(
        "/referral/fhir/$screen", headers=headers, content=_chunks(2 * SCREEN_LIMIT, line * 1000)
    )
    assert too_big.status_code == 413, too_big.text
    declared = client.post(
        "/referral/fhir/$screen", headers={**headers, "content-length": str(10 * SCREEN_LIMIT)}, content=line
    )
    assert declared.status_code == 413


def test_one_endless_ndjson_line_is_413_at_its_limit(small: tuple[EmbeddedSystem, TestClient, str]) -> None:
    _system, client, token = small
    headers = {"authorization": f"Bearer {token}", "content-type": NDJSON}
    endless = client.post(
        "/referral/fhir/$screen", headers=headers, content=_chunks(SCREEN_LIMIT - 1, b"x" * 4096)
    )
    assert endless.status_code in (400, 413)
    with pytest.raises(PayloadTooLarge, match="Line 1 is longer than 1000 bytes"):
        list(ndjson_resources(iter([b"{" + b" " * 600, b" " * 600, b""]).__next__, max_line_bytes=1000))


def test_json_nested_20000_deep_is_400_on_the_bundle_and_ndjson_routes(
    small: tuple[EmbeddedSystem, TestClient, str],
) -> None:
    _system, client, token = small
    deep = '{"a":' * 20_000 + "1" + "}" * 20_000
    bundle = (
        '{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"p","x":'
        + deep
        + "}}]}"
    )
    headers = {"authorization": f"Bearer {token}", "content-type": "application/fhir+json"}
    response = client.post("/referral/fhir/$screen", headers=headers, content=bundle.encode())
    assert response.status_code == 400, response.text
    nested_line = '{"resourceType":"Patient","id":"p","x":' + '{"a":' * 100 + "1" + "}" * 100 + "}\n"
    response = client.post(
        "/referral/fhir/$screen", headers={**headers, "content-type": NDJSON}, content=nested_line.encode()
    )
    assert response.status_code == 400, response.text


RESOURCES = st.lists(
    st.builds(
        lambda i, n: {"resourceType": "Patient", "id": f"p{i}", "name": [{"text": "x" * n}]},
        st.integers(0, 99),
        st.integers(0, 300),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(resources=RESOURCES, cuts=st.lists(st.integers(0, 4000), max_size=12), blank=st.booleans())
def test_ndjson_lines_are_the_same_however_the_body_is_cut_into_chunks(
    resources: list[dict[str, Any]], cuts: list[int], blank: bool
) -> None:
    body = b"".join(json.dumps(r).encode() + (b"\n\n" if blank else b"\n") for r in resources)
    bounds = sorted({c for c in cuts if c < len(body)} | {0, len(body)})
    chunks = [body[a:b] for a, b in itertools.pairwise(bounds)] + [b""]
    assert list(ndjson_resources(iter(chunks).__next__)) == resources


def test_a_line_that_is_not_a_resource_is_still_a_400() -> None:
    with pytest.raises(BadRequest, match="Line 2"):
        list(ndjson_resources(iter([b'{"resourceType":"Patient"}\n[1]\n', b""]).__next__))
