# SPDX-License-Identifier: Apache-2.0
"""Build routes: `POST /build` (the classic builder's query parameters, a context tar in
the body, a JSON-lines stream back) and `POST /build/prune`.

Build secrets (`dockyard build --secret`, `RUN --mount=type=secret`) travel in the body,
ahead of the context. The (uncompressed, or gzip/bzip2/xz-compressed as a whole) tar may
open with one member per secret, before any other member:

    name   .dockyard-build-secrets/<the secret id, UTF-8, as lower-case hex>  (id ≤ 50 bytes)
    type   regular file, in a plain ustar header (no PAX or GNU extension header before it)
    data   the secret's bytes (at most 500 KiB)

The daemon reads these off the stream before it writes the rest of the context to disk,
keeps them in memory for this build only, and never puts them in the context: COPY,
ADD, `.dockerignore`, the cache keys, layers and history never see them. Members under
`.dockyard-build-secrets/` after the first other member are dropped from the context and
are not secrets. Clients that send no secrets send the context unchanged (Docker's CLI
and docker-py are unaffected). See dockyard/builder/buildsecrets.py.

`POST /dockyard/build/context?key=K` and `/build?dockyardcontext=K` are dockyard's
incremental contexts: the CLI sends only the files the daemon does not already hold from
the last build of the same directory (dockyard/builder/contextsync.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.builder import BuildOptions, contextsync
from dockyard.errors import InvalidParameter, json_input
from dockyard.server.bridge import BodyReader
from dockyard.server.params import boolean, filters, integer, json_response

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon


def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    async def build(request: web.Request) -> web.StreamResponse:
        options = options_from(request)
        if request.query.get("remote"):
            raise InvalidParameter("remote build contexts (git or URL) are not supported; send the context as the body")
        builder = daemon.builder
        context = await builder.receive_context(BodyReader(request.content, asyncio.get_running_loop()),
                                                key=request.query.get(contextsync.QUERY, ""))
        try:
            dockerfile = await builder.prepare(context, options)
        except BaseException:
            await asyncio.to_thread(context.close)
            raise
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        async for message in builder.build(context, dockerfile, options):
            await response.write(json.dumps(message).encode() + b"\r\n")
        await response.write_eof()
        return response

    async def context_needs(request: web.Request) -> web.Response:
        need = await daemon.builder.context_needs(request.query.get("key", ""), await request.read())
        return json_response({"Need": need})

    async def prune(request: web.Request) -> web.Response:
        keep = integer(request, "keep-storage", 0) or integer(request, "keepStorage", 0) or 0
        return json_response(await daemon.builder.prune(
            all=boolean(request, "all"), filters=filters(request), keep_storage=keep))

    return [("POST", "/build", build), ("POST", "/build/prune", prune),
            ("POST", "/dockyard/build/context", context_needs)]


def options_from(request: web.Request) -> BuildOptions:
    query = request.query
    return BuildOptions(
        tags=[t for t in query.getall("t", []) if t],
        dockerfile=query.get("dockerfile") or "Dockerfile",
        buildargs=_json_map(query.get("buildargs"), "buildargs"),
        nocache=boolean(request, "nocache"),
        pull=boolean(request, "pull"),
        rm=boolean(request, "rm", True),
        forcerm=boolean(request, "forcerm"),
        quiet=boolean(request, "q"),
        labels={k: v or "" for k, v in _json_map(query.get("labels"), "labels").items()},
        target=query.get("target", ""),
        network_mode=query.get("networkmode", "") if query.get("networkmode") != "default" else "",
        extra_hosts=[h for h in query.get("extrahosts", "").split(",") if h],
        cache_from=_json_list(query.get("cachefrom")),
        platform=query.get("platform", ""),
        squash=boolean(request, "squash"),
    )


def _json_map(raw: str | None, name: str) -> dict[str, Any]:
    if not raw:
        return {}
    return json_input(raw, dict, f"invalid {name}")  # type: ignore[return-value]


def _json_list(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return [raw]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
