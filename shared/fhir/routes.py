"""The REST routes the kernel serves, built per declared resource type and operation."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Connection
from starlette.responses import Response

from shared.core.errors import BadRequest, Duplicate, Forbidden, InvalidResource, PreconditionFailed
from shared.fhir import idempotency
from shared.fhir.audit import AuditRecord
from shared.fhir.bundles import history_bundle, searchset_bundle, with_dropped
from shared.fhir.http import (
    etag_version,
    fhir_json_only,
    id_path,
    no_other_fhir_format,
    preferences,
    resource_response,
    search_form,
    version_number,
)
from shared.fhir.jsonio import FhirResponse
from shared.fhir.tenancy import check_writable, owner_practice

if TYPE_CHECKING:
    from shared.fhir.kernel import FhirKernel, Operation, ResourceConfig

__all__ = ["build_router"]


def build_router(kernel: FhirKernel) -> APIRouter:
    router = APIRouter(prefix="/fhir")

    @router.get(
        "/metadata",
        tags=["conformance"],
        summary="CapabilityStatement (open)",
        dependencies=[Depends(fhir_json_only)],
    )
    async def metadata(request: Request) -> Response:
        return FhirResponse(kernel.capability(request))

    def add_operation(op: Operation) -> None:
        async def handle(request: Request, resource_id: str | None = None) -> Response:
            ctx = await kernel.context(request, *op.scope)
            reads_body = request.method == "POST" and not op.streams_body
            body = await kernel.body(request, optional=True) if reads_body else None
            from shared.fhir.kernel import OperationCall

            call = OperationCall(kernel, ctx, request, body, resource_id, op)
            try:
                result = await op.handler(call)
            except Exception as exc:
                from shared.core.errors import FhirError

                if isinstance(exc, FhirError):
                    await kernel.audit_failure(ctx, call._record(), exc)
                raise
            if not call.audited:
                record = call._record()
                await kernel.run(ctx, record, lambda conn: None)
            if isinstance(result, Response):
                return result
            return FhirResponse(result)

        if op.level == "system":
            path = f"/${op.name}"
        elif op.level == "type":
            path = f"/{op.resource_type}/${op.name}"
        else:
            path = f"/{op.resource_type}/{{resource_id}}/${op.name}"
        # One route per method: FastAPI gives a multi-method route one operationId for all methods.
        for method in op.methods:
            router.add_api_route(
                path,
                handle,
                methods=[method],
                summary=op.documentation or f"${op.name}",
                tags=[op.resource_type or "operations"],
                name=f"op-{op.resource_type}-{op.name}-{method.lower()}",
                openapi_extra=fhir_body(None, op.documentation) if method == "POST" else None,
                dependencies=[Depends(no_other_fhir_format)],
            )

    for op in kernel.operations:
        add_operation(op)

    for config in kernel.resources.values():
        _add_resource_routes(router, kernel, config)
    return router


def fhir_body(resource_type: str | None, description: str = "") -> dict[str, Any]:
    """OpenAPI for a FHIR JSON body (the kernel reads bodies itself, so FastAPI cannot infer it)."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string"}},
    }
    if resource_type:
        schema["properties"]["resourceType"]["enum"] = [resource_type]
    return {
        "requestBody": {
            "required": True,
            "description": description or f"A FHIR R4 {resource_type or 'resource'}",
            "content": {"application/fhir+json": {"schema": schema}},
        }
    }


def _add_resource_routes(router: APIRouter, kernel: FhirKernel, config: ResourceConfig) -> None:
    rt, interactions, store = config.type, config.interactions, kernel.store
    tags: list[str | Enum] = [rt]
    # Content negotiation before anything else: the REST interactions answer FHIR R4 JSON only.
    negotiated = [Depends(fhir_json_only)]

    if "create" in interactions:

        async def create(request: Request) -> Response:
            ctx = await kernel.context(request, rt, "c")
            body = await kernel.body(request)
            resource = kernel.validate(body, rt)
            condition = request.headers.get("if-none-exist")

            def work(conn: Connection) -> tuple[dict[str, Any], int]:
                if condition:
                    from urllib.parse import parse_qsl

                    items = parse_qsl(condition.split("?", 1)[-1], keep_blank_values=True)
                    found = store.search(conn, store.query(rt, items, count=2), tenants=ctx.tenants)
                    if found.total == 1:
                        return found.resources[0], 200
                    if found.total > 1:
                        raise PreconditionFailed(f"If-None-Exist matched {found.total} resources")
                check_writable(conn, ctx.tenants, rt, None, resource)
                owner = owner_practice(conn, ctx.tenants, ctx.principal.practice, resource)
                stored = store.create(conn, resource, practice=owner)
                kernel.write_provenance(conn, ctx, stored, "CREATE", practice=owner)
                if config.on_write is not None:
                    config.on_write(conn, ctx, stored, "create")
                version = stored["meta"]["versionId"]
                idempotency.remember_location(conn, ctx, f"{rt}/{stored['id']}/_history/{version}")
                return stored, 201

            base = kernel.base_url(request)
            try:
                stored, status = await kernel.run(ctx, AuditRecord("create", rt), work, write=True)
            except Duplicate as repeat:
                if repeat.location:  # the sender lost its 201: tell it where the original went
                    repeat.headers["Location"] = f"{base}/{repeat.location}"
                raise
            location = f"{base}/{rt}/{stored['id']}/_history/{stored['meta']['versionId']}"
            prefer = preferences(request).get("return")
            return resource_response(stored, status, location, prefer_return=prefer)

        router.add_api_route(
            f"/{rt}",
            create,
            methods=["POST"],
            status_code=201,
            tags=tags,
            name=f"create-{rt}",
            summary=f"Create a {rt}",
            openapi_extra=fhir_body(rt),
            dependencies=negotiated,
        )

    if "search-type" in interactions:

        async def search(request: Request) -> Response:
            ctx = await kernel.context(request, rt, "s")
            items = list(request.query_params.multi_items())
            if request.method == "POST":
                items += await search_form(request)
            query = store.query(rt, items, lenient=preferences(request).get("handling") == "lenient")
            record = AuditRecord("search-type", rt, query=str(request.url.query))
            # What the request names is refused before anything is read: every _revinclude's type and
            # every typed _include's target. An untyped _include's targets are known once the matches
            # are (from references the caller is already shown), so they are checked in the transaction.
            named = [source for source, _p, _t in query.revincludes]
            named += [target for source, _p, target in query.includes if target and source == rt]
            try:
                kernel.check_contained(ctx, named, "_include/_revinclude")
            except Forbidden as exc:
                await kernel.audit_failure(ctx, record, exc)
                raise

            def work(conn: Connection) -> Any:
                found = store.search(conn, query, tenants=ctx.tenants)
                kernel.check_contained(ctx, (r["resourceType"] for r in found.included), "_include")
                return found

            result = await kernel.run(ctx, record, work)
            url = f"{kernel.base_url(request)}/{rt}"
            dropped = {key for key, _why in query.dropped}  # left out under Prefer: handling=lenient
            kept = [(key, value) for key, value in items if key not in dropped]
            bundle = searchset_bundle(kernel.base_url(request), url, kept, result, query.offset, query.count)
            return FhirResponse(with_dropped(bundle, query.dropped))

        router.add_api_route(
            f"/{rt}",
            search,
            methods=["GET"],
            tags=tags,
            name=f"search-{rt}",
            summary=f"Search {rt}",
            dependencies=negotiated,
        )
        router.add_api_route(
            f"/{rt}/_search",
            search,
            methods=["POST"],
            tags=tags,
            name=f"search-post-{rt}",
            summary=f"Search {rt} (form post)",
            dependencies=negotiated,
        )

    if "history-instance" in interactions:

        async def history(request: Request, resource_id: str = id_path()) -> Response:
            ctx = await kernel.context(request, rt, "r")
            items = list(request.query_params.multi_items())
            unknown = {k for k, _ in items} - {"_count", "_offset", "_format"}  # _format: negotiated
            if unknown:
                raise BadRequest(f"Unsupported history parameters: {', '.join(sorted(unknown))}")
            query = store.query(rt, items)
            record = AuditRecord("history-instance", rt, resource_id)
            total, versions = await kernel.run(
                ctx,
                record,
                lambda conn: store.history(
                    conn, rt, resource_id, tenants=ctx.tenants, count=query.count, offset=query.offset
                ),
            )
            base = kernel.base_url(request)
            return FhirResponse(
                history_bundle(
                    base,
                    f"{base}/{rt}/{resource_id}/_history",
                    items,
                    total,
                    versions,
                    query.offset,
                    query.count,
                )
            )

        router.add_api_route(
            f"/{rt}/{{resource_id}}/_history",
            history,
            methods=["GET"],
            tags=tags,
            name=f"history-{rt}",
            summary=f"History of a {rt}",
            dependencies=negotiated,
        )

    if "vread" in interactions:

        async def vread(
            request: Request, resource_id: str = id_path(), version_id: str = id_path("Version id")
        ) -> Response:
            ctx = await kernel.context(request, rt, "r")
            version = version_number(version_id)
            if version is None:
                raise BadRequest("A version id is a whole number of at most 9 digits")
            record = AuditRecord("vread", rt, resource_id)
            resource = await kernel.run(
                ctx,
                record,
                lambda conn: store.vread(conn, rt, resource_id, version, tenants=ctx.tenants),
            )
            return resource_response(resource)

        router.add_api_route(
            f"/{rt}/{{resource_id}}/_history/{{version_id}}",
            vread,
            methods=["GET"],
            tags=tags,
            name=f"vread-{rt}",
            summary=f"Read one version of a {rt}",
            dependencies=negotiated,
        )

    if "read" in interactions:

        async def read(request: Request, resource_id: str = id_path()) -> Response:
            ctx = await kernel.context(request, rt, "r")
            record = AuditRecord("read", rt, resource_id)
            resource = await kernel.run(
                ctx, record, lambda conn: store.read(conn, rt, resource_id, tenants=ctx.tenants)
            )
            return resource_response(resource)

        router.add_api_route(
            f"/{rt}/{{resource_id}}",
            read,
            methods=["GET"],
            tags=tags,
            name=f"read-{rt}",
            summary=f"Read a {rt}",
            dependencies=negotiated,
        )

    if "update" in interactions:

        async def update(request: Request, resource_id: str = id_path()) -> Response:
            ctx = await kernel.context(request, rt, "u")
            body = await kernel.body(request)
            resource = kernel.validate(body, rt)
            if resource.get("id") != resource_id:
                raise InvalidResource(
                    f"The body's id ({resource.get('id')!r}) must equal the URL's ({resource_id!r})",
                    expression=[f"{rt}.id"],
                )
            if_match = etag_version(request.headers.get("if-match"))

            def work(conn: Connection) -> tuple[dict[str, Any], bool]:
                check_writable(conn, ctx.tenants, rt, resource_id, resource)
                # No update-as-create over REST: ids are assigned by POST, so an unknown id and another
                # practice's answer the same 404 (neither probed nor squatted).
                stored, created = store.update(
                    conn,
                    resource,
                    tenants=ctx.tenants,
                    practice=ctx.principal.practice,
                    if_match=if_match,
                    create=False,
                )
                owner = owner_practice(conn, ctx.tenants, ctx.principal.practice, stored)
                kernel.write_provenance(conn, ctx, stored, "CREATE" if created else "UPDATE", practice=owner)
                if config.on_write is not None:
                    config.on_write(conn, ctx, stored, "create" if created else "update")
                return stored, created

            stored, created = await kernel.run(ctx, AuditRecord("update", rt, resource_id), work, write=True)
            prefer = preferences(request).get("return")
            return resource_response(stored, 201 if created else 200, prefer_return=prefer)

        router.add_api_route(
            f"/{rt}/{{resource_id}}",
            update,
            methods=["PUT"],
            tags=tags,
            name=f"update-{rt}",
            summary=f"Update a {rt} (create with POST); honours If-Match",
            openapi_extra=fhir_body(rt),
            dependencies=negotiated,
        )

    if "delete" in interactions:

        async def delete(request: Request, resource_id: str = id_path()) -> Response:
            ctx = await kernel.context(request, rt, "d")
            if_match = etag_version(request.headers.get("if-match"))

            def work(conn: Connection) -> int:
                check_writable(conn, ctx.tenants, rt, resource_id)
                if if_match is not None:
                    current = store.current_version(conn, rt, resource_id, tenants=ctx.tenants)
                    if current != if_match:
                        raise PreconditionFailed(f"If-Match version {if_match} is not the current version")
                last = store.read(conn, rt, resource_id, tenants=ctx.tenants) if config.on_write else None
                version: int = store.delete(conn, rt, resource_id, tenants=ctx.tenants)
                if config.on_write is not None and last is not None:
                    config.on_write(conn, ctx, last, "delete")
                return version

            await kernel.run(ctx, AuditRecord("delete", rt, resource_id), work, write=True)
            return Response(status_code=204)

        router.add_api_route(
            f"/{rt}/{{resource_id}}",
            delete,
            methods=["DELETE"],
            tags=tags,
            name=f"delete-{rt}",
            status_code=204,
            summary=f"Delete a {rt} (soft, kept in history)",
            dependencies=negotiated,
        )
