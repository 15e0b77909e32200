# SPDX-License-Identifier: Apache-2.0
"""Volume routes: list, create, inspect, remove, prune."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from dockyard.server.params import boolean, filters, json_body, json_response

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon


def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    volumes = daemon.volumes

    async def list_(request: web.Request) -> web.Response:
        return json_response(volumes.list(filters(request)))

    async def create(request: web.Request) -> web.Response:
        body = await json_body(request, required=False)
        return json_response(await volumes.create(body), 201)

    async def inspect(request: web.Request) -> web.Response:
        return json_response(volumes.inspect(request.match_info["name"]))

    async def delete(request: web.Request) -> web.Response:
        await volumes.remove(request.match_info["name"], force=boolean(request, "force"))
        return web.Response(status=204)

    async def prune(request: web.Request) -> web.Response:
        # Before API 1.42 a prune took named volumes too; later only with `all=true`.
        return json_response(await volumes.prune(
            filters(request), all_by_default=_older_than(request, (1, 42))))

    return [
        ("GET", "/volumes", list_),
        ("POST", "/volumes/create", create),
        ("POST", "/volumes/prune", prune),
        ("GET", "/volumes/{name}", inspect),
        ("DELETE", "/volumes/{name}", delete),
    ]


def _older_than(request: web.Request, version: tuple[int, int]) -> bool:
    requested = request.match_info.get("api_version")
    if not requested:
        return False
    try:
        return tuple(int(p) for p in requested[1:].split(".")) < version
    except ValueError:
        return False
