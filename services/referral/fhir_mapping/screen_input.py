"""``$screen`` input, read incrementally: NDJSON lines or a Bundle's entries, one resource at a time.

The request body arrives as an async stream of chunks; screening runs in a worker thread, which pulls
chunks through `BlockingBody` (``anyio.from_thread``). Only one chunk, one line or entry, and one
patient's group are held at a time, so memory stays flat however large the practice is. Resources
are checked to be JSON objects with a ``resourceType`` (full R4 validation of every resource would
cost more than the screening itself; ``$process-message`` validates what it stores).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio.from_thread
import ijson
import orjson

from shared.fhir import MAX_DEPTH, BadRequest, PayloadTooLarge, depth_ok

__all__ = [
    "MAX_LINE_BYTES",
    "NDJSON_TYPES",
    "BlockingBody",
    "entry_resource",
    "ndjson_resources",
    "streamed_bundle_resources",
]

NDJSON_TYPES = frozenset({"application/fhir+ndjson", "application/x-ndjson", "application/ndjson"})
PEEK_BYTES = 64 * 1024
MAX_LINE_BYTES = 1024 * 1024
"""One NDJSON line (one patient's resource) at most; a longer one is refused as soon as it is seen."""


class BlockingBody(io.RawIOBase):
    """A blocking, read-only file over an async chunk stream, for use from an anyio worker thread."""

    def __init__(self, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None) -> None:
        self._chunks = chunks
        self._pending = b""
        self._done = False
        self._max_bytes, self._read = max_bytes, 0

    def readable(self) -> bool:
        return True

    def next_chunk(self) -> bytes:
        """The next non-empty chunk, or b"" at the end."""
        if self._pending:
            pending, self._pending = self._pending, b""
            return pending
        while not self._done:
            chunk: bytes | None = anyio.from_thread.run(_next, self._chunks)
            if chunk is None:
                self._done = True
            elif chunk:
                self._read += len(chunk)
                if self._max_bytes is not None and self._read > self._max_bytes:
                    raise PayloadTooLarge(f"The body is larger than {self._max_bytes} bytes")
                return chunk
        return b""

    def push_back(self, data: bytes) -> None:
        self._pending = data + self._pending

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(self.next_chunk, b""))
        chunk = self.next_chunk()
        if len(chunk) > size:
            self.push_back(chunk[size:])
            chunk = chunk[:size]
        return chunk

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


async def _next(chunks: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return None


def _resource(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise BadRequest(f"{where} is not a FHIR resource (a JSON object with a resourceType)")
    return value


def ndjson_resources(
    next_chunk: Callable[[], bytes], *, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[dict[str, Any]]:
    """One resource per non-blank line. Each byte is looked at once (a line's pieces are joined only
    when its end arrives), so time is linear in the body however long a line is."""
    pieces: list[bytes] = []
    held, line_number = 0, 0
    while chunk := next_chunk():
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            line_number += 1
            if held + end - start > max_line_bytes:
                raise PayloadTooLarge(f"Line {line_number} is longer than {max_line_bytes} bytes")
            line = b"".join([*pieces, chunk[start:end]]) if pieces else chunk[start:end]
            pieces, held, start = [], 0, end + 1
            if line.strip():
                yield _parse_line(line, line_number)
        if start < len(chunk):
            pieces.append(chunk[start:])
            held += len(chunk) - start
            if held > max_line_bytes:
                raise PayloadTooLarge(f"Line {line_number + 1} is longer than {max_line_bytes} bytes")
    last = b"".join(pieces)
    if last.strip():
        yield _parse_line(last, line_number + 1)


def _parse_line(line: bytes, number: int) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Line {number} is not JSON: {exc.msg}") from exc
    if not depth_ok(value, MAX_DEPTH):
        raise BadRequest(f"Line {number} is nested more than {MAX_DEPTH} levels deep")
    return _resource(value, f"Line {number}")


def entry_resource(entry: Any, index: int) -> dict[str, Any]:
    """A Bundle entry's resource with ``urn:uuid:`` patient references made ``Patient/<uuid>``."""
    if not isinstance(entry, dict):
        raise BadRequest(f"Bundle.entry[{index}] is not an object")
    resource = _resource(entry.get("resource"), f"Bundle.entry[{index}].resource")
    full_url = str(entry.get("fullUrl") or "")
    if resource["resourceType"] == "Patient" and not resource.get("id") and full_url.startswith("urn:uuid:"):
        resource["id"] = full_url.removeprefix("urn:uuid:")
    for name in ("subject", "patient"):
        target = resource.get(name)
        if isinstance(target, dict) and str(target.get("reference", "")).startswith("urn:uuid:"):
            resource[name] = {
                **target,
                "reference": "Patient/" + target["reference"].removeprefix("urn:uuid:"),
            }
    return resource


def _top_level_type(head: bytes) -> str | None:
    """The Bundle's resourceType, read from the first bytes (None when it comes after the entries)."""
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(head)):
            if prefix == "resourceType" and event == "string":
                return str(value)
            if prefix == "entry":
                return None
    except ijson.common.IncompleteJSONError:
        return None
    except ijson.common.JSONError as exc:
        raise BadRequest(f"The Bundle is not valid JSON: {exc}") from exc
    return None


def streamed_bundle_resources(body: BlockingBody) -> Iterator[dict[str, Any]]:
    """Each entry's resource of a (possibly huge) Bundle, parsed incrementally."""
    head = b""
    while len(head) < PEEK_BYTES and (chunk := body.next_chunk()):
        head += chunk
    if not head.strip():
        raise BadRequest("The request body is empty")
    kind = _top_level_type(head)
    if kind is not None and kind != "Bundle":
        raise BadRequest(f"$screen takes a Bundle or NDJSON, not a {kind}")
    body.push_back(head)
    try:
        for index, entry in enumerate(ijson.items(body, "entry.item", use_float=True)):
            # The Bundle and its entry list are two levels: an entry may nest what any body may.
            if not depth_ok(entry, MAX_DEPTH - 2):
                raise BadRequest(f"Bundle.entry[{index}] is nested more than {MAX_DEPTH} levels deep")
            yield entry_resource(entry, index)
    except ijson.common.JSONError as exc:
        raise BadRequest(f"The Bundle is not valid JSON: {exc}") from exc
