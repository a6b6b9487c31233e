"""The screen half of the referral benchmark: a generated practice streamed to ``$screen`` as NDJSON."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson

if TYPE_CHECKING:
    from bench.referral import Server

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 64 * 1024

__all__ = ["CHUNK", "practice_file", "screen_run", "stream"]


# ---- the practice and the stream ------------------------------------------------------------
def practice_file(folder: Path, patients: int) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.support.referral_records import practice

    path = folder / f"practice-{patients}.ndjson"
    with path.open("wb") as out:
        for resource in practice(patients):
            out.write(orjson.dumps(resource) + b"\n")
    return path


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            yield chunk


def stream(url: str, path: Path, headers: dict[str, str]) -> tuple[float, bytes]:
    async def send() -> tuple[float, bytes]:
        async with httpx.AsyncClient(timeout=600) as client:
            start = time.perf_counter()
            async with client.stream("POST", url, content=_file_chunks(path), headers=headers) as response:
                last = b""
                async for chunk in response.aiter_bytes():  # read it all, keep only the tail
                    last = chunk
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: {response.status_code} {last[:300]!r}")
            return time.perf_counter() - start, last

    return asyncio.run(send())


def screen_run(server: Server, url: str, path: Path, headers: dict[str, str]) -> dict[str, Any]:
    baseline = server.reset_peak()
    cpu = server.cpu_seconds()
    elapsed, _body = stream(url, path, headers)
    return {
        "seconds": round(elapsed, 2),
        "server_cpu_s": round(server.cpu_seconds() - cpu, 2),
        "rss_before_mib": round(baseline, 1),
        "peak_rss_mib": round(server.peak_mib(), 1),
        "peak_growth_mib": round(server.peak_mib() - baseline, 1),
        "body_mib": round(path.stat().st_size / 2**20, 1),
    }
