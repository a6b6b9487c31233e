"""$screen's input, read incrementally: NDJSON split anywhere and huge Bundles give one resource at a
time, and screening a stream holds no more than one patient and the top N."""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import anyio
import orjson
import pytest

from services.referral.fhir_mapping.screen_input import (
    BlockingBody,
    ndjson_resources,
    streamed_bundle_resources,
)
from services.referral.operations.screen import run_screen, screen_parameters
from shared.fhir import BadRequest
from tests.support.referral_records import practice

REFERRAL = date(2024, 6, 15)


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_ndjson_split_at_any_byte_gives_the_same_resources(size: int) -> None:
    resources = list(practice(3))
    data = b"\n".join(orjson.dumps(r) for r in resources) + b"\n\n"
    chunks = chunked(data, size)
    assert list(ndjson_resources(lambda: next(chunks, b""))) == resources


def test_a_last_line_without_a_newline_is_read() -> None:
    chunks = iter([b'{"resourceType":"Patient","id":"a"}\n{"resourceType":"Patient","id":"b"}'])
    assert [r["id"] for r in ndjson_resources(lambda: next(chunks, b""))] == ["a", "b"]


@pytest.mark.parametrize("line", [b"not json", b"[1, 2]", b'{"id": "x"}'])
def test_a_line_that_is_not_a_resource_is_refused_with_its_number(line: bytes) -> None:
    chunks = iter([b'{"resourceType":"Patient","id":"a"}\n' + line + b"\n"])
    with pytest.raises(BadRequest, match="Line 2"):
        list(ndjson_resources(lambda: next(chunks, b"")))


async def _stream(data: bytes, size: int) -> AsyncIterator[bytes]:
    for chunk in chunked(data, size):
        yield chunk


def read_bundle(data: bytes, size: int = 4096) -> list[dict[str, Any]]:
    async def main() -> list[dict[str, Any]]:
        body = BlockingBody(_stream(data, size))
        return await anyio.to_thread.run_sync(lambda: list(streamed_bundle_resources(body)))

    return anyio.run(main)


def test_a_bundle_is_read_entry_by_entry_through_a_blocking_body() -> None:
    resources = list(practice(3))
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    assert read_bundle(orjson.dumps(bundle), size=333) == resources


def test_a_bundle_whose_resource_type_comes_last_is_still_read() -> None:
    data = b'{"entry": [{"resource": {"resourceType": "Patient", "id": "a"}}], "resourceType": "Bundle"}'
    assert read_bundle(data) == [{"resourceType": "Patient", "id": "a"}]


def test_a_bundle_gives_urn_uuid_patients_an_id_and_their_resources_a_patient_reference() -> None:
    url = f"urn:uuid:{uuid.uuid4()}"
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": url, "resource": {"resourceType": "Patient"}},
            {"resource": {"resourceType": "Condition", "subject": {"reference": url}}},
        ],
    }
    patient, condition = read_bundle(orjson.dumps(bundle))
    assert f"Patient/{patient['id']}" == condition["subject"]["reference"] == f"Patient/{url[9:]}"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"resourceType": "Patient", "id": "a"}', "not a Patient"),
        (b'{"resourceType": "Bundle", "entry": [{"resource": [1]}]}', "not a FHIR resource"),
        (b'{"resourceType": "Bundle", "entry": [', "not valid JSON"),
        (b"", "empty"),
    ],
)
def test_a_body_that_is_not_a_bundle_of_resources_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        read_bundle(data)


def test_a_screen_counts_every_patient_returns_the_best_and_explains_them() -> None:
    resources = (r for r in practice(120))
    summary = run_screen(resources, REFERRAL, 5)
    assert summary.total == 120 and len(summary.top) == 5
    parameters = screen_parameters(summary, REFERRAL)
    totals = {p["name"]: p.get("valueInteger") for p in parameters["parameter"] if p["name"] != "patient"}
    assert totals["total"] == 120 and totals["returned"] == 5
    assert totals["eligible"] + totals["needsReview"] + totals["ineligible"] == 120


def _ndjson_peak(patients: int) -> int:
    template = [orjson.dumps(r) for r in practice(1)]

    def lines() -> Iterator[bytes]:
        for serial in range(patients):
            for line in template:
                yield line.replace(b"pat-1000", f"pat-{serial}".encode()) + b"\n"

    chunks = lines()
    tracemalloc.start()
    run_screen(ndjson_resources(lambda: next(chunks, b"")), REFERRAL, 10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_stays_flat_from_the_bytes_in_to_the_ranked_top_ten() -> None:
    _ndjson_peak(5)  # warm the caches
    # The least of three runs: tracemalloc also counts other threads' allocations.
    small = min(_ndjson_peak(20) for _ in range(3))
    large = min(_ndjson_peak(200) for _ in range(3))
    assert large - small < 180 * 250 + 100_000, (small, large)  # only the finished patients' keys grow
