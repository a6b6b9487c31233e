"""The CodeSystems the referral service publishes, the same for every practice: read, vread, history, search.

Eligibility reasons, screening signals and referral workflow states (`data/codesystem-*.json`).
The kernel's store keeps every resource under one practice, so resources shared by all practices
cannot live there: these routes serve the packaged files (served ahead of the kernel's read-only
declaration of CodeSystem, which keeps them in the CapabilityStatement). Every call is authenticated,
scope-checked and audited through the kernel like any other read.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from services.referral.eligibility import load_data
from shared.fhir import AuditRecord, BadRequest, FhirKernel, FhirResponse, NotFound, now_instant
from shared.fhir.bundles import history_bundle, searchset_bundle
from shared.fhir.http import id_path, resource_response
from shared.fhir.search import Criterion, parse_search
from shared.fhir.store import SearchResult, StoredVersion

__all__ = ["CODE_SYSTEM_FILES", "code_systems", "codesystem_router", "matches"]

CODE_SYSTEM_FILES = (
    "codesystem-eligibility-reason.json",
    "codesystem-screening-signal.json",
    "codesystem-referral-status.json",
)
SUPPORTED = frozenset({"_id", "url", "name", "status", "identifier"})
_LOADED = now_instant().isoformat(timespec="milliseconds").replace("+00:00", "Z")


@cache
def code_systems() -> dict[str, dict[str, Any]]:
    """Each published CodeSystem by id, as version 1."""
    loaded = [load_data(name) for name in CODE_SYSTEM_FILES]
    return {cs["id"]: {**cs, "meta": {"versionId": "1", "lastUpdated": _LOADED}} for cs in loaded}


def _values(resource: dict[str, Any], name: str) -> list[tuple[str | None, str]]:
    if name == "_id":
        return [(None, resource["id"])]
    if name == "identifier":
        return [(i.get("system"), i.get("value", "")) for i in resource.get("identifier", [])]
    value = resource.get(name)
    return [(None, str(value))] if value is not None else []


def matches(resource: dict[str, Any], criterion: Criterion) -> bool:
    """One search criterion (values OR-ed) against a CodeSystem: token and string parameters only."""
    name = criterion.param.name
    if name not in SUPPORTED:
        raise BadRequest(f"CodeSystem search by '{name}' is not supported here", issue_code="not-supported")
    for op, system, wanted in criterion.values:
        for held_system, held in _values(resource, name):
            if criterion.param.type == "string":
                text = held.lower()
                hit = {"starts": text.startswith(wanted), "contains": wanted in text}.get(op, held == wanted)
            else:
                hit = held == wanted and (system is None or (held_system or "") == system)
            if hit:
                return True
    return False


def codesystem_router(kernel: FhirKernel) -> APIRouter:
    router = APIRouter(prefix="/fhir")
    store = kernel.store

    def held(resource_id: str) -> dict[str, Any]:
        if resource_id not in code_systems():
            raise NotFound(f"CodeSystem/{resource_id} is not known")
        return code_systems()[resource_id]

    async def read(request: Request, resource_id: str = id_path()) -> Response:
        ctx = await kernel.context(request, "CodeSystem", "r")
        resource = await kernel.run(
            ctx, AuditRecord("read", "CodeSystem", resource_id), lambda _c: held(resource_id)
        )
        return resource_response(resource)

    async def vread(
        request: Request, resource_id: str = id_path(), version_id: str = id_path("Version id")
    ) -> Response:
        ctx = await kernel.context(request, "CodeSystem", "r")

        def one(_conn: Any) -> dict[str, Any]:
            if version_id != "1":
                raise NotFound(f"CodeSystem/{resource_id}/_history/{version_id} is not known")
            return held(resource_id)

        return resource_response(await kernel.run(ctx, AuditRecord("vread", "CodeSystem", resource_id), one))

    async def history(request: Request, resource_id: str = id_path()) -> Response:
        ctx = await kernel.context(request, "CodeSystem", "r")
        record = AuditRecord("history-instance", "CodeSystem", resource_id)
        resource = await kernel.run(ctx, record, lambda _c: held(resource_id))
        base = kernel.base_url(request)
        version = StoredVersion(resource, 1, False, "PUT", resource["meta"]["lastUpdated"], "")
        url = f"{base}/CodeSystem/{resource_id}/_history"
        return FhirResponse(history_bundle(base, url, [], 1, [version], 0, store.default_count))

    async def search(request: Request) -> Response:
        ctx = await kernel.context(request, "CodeSystem", "s")
        items = list(request.query_params.multi_items())
        if request.method == "POST":
            form = await request.form()
            items += [(k, str(v)) for k, v in form.multi_items()]
        query = parse_search(
            "CodeSystem", items, default_count=store.default_count, max_count=store.max_count
        )

        def found(_conn: Any) -> SearchResult:
            hits = [cs for cs in code_systems().values() if all(matches(cs, c) for c in query.criteria)]
            page = [] if query.summary_count else hits[query.offset : query.offset + query.count]
            return SearchResult(len(hits), page)

        record = AuditRecord("search-type", "CodeSystem", query=str(request.url.query))
        result = await kernel.run(ctx, record, found)
        base = kernel.base_url(request)
        return FhirResponse(
            searchset_bundle(base, f"{base}/CodeSystem", items, result, query.offset, query.count)
        )

    for path, endpoint, methods in (
        ("/CodeSystem", search, ["GET"]),
        ("/CodeSystem/_search", search, ["POST"]),
        ("/CodeSystem/{resource_id}", read, ["GET"]),
        ("/CodeSystem/{resource_id}/_history", history, ["GET"]),
        ("/CodeSystem/{resource_id}/_history/{version_id}", vread, ["GET"]),
    ):
        router.add_api_route(path, endpoint, methods=methods, include_in_schema=False)
    return router
