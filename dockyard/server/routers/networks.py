# SPDX-License-Identifier: Apache-2.0
"""Network routes: list, inspect, create, remove, prune, connect, disconnect."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from dockyard.server.params import filters, json_body, json_response

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon


def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    networks = daemon.networks

    async def list_(request: web.Request) -> web.Response:
        return json_response(networks.list(filters(request)))

    async def inspect(request: web.Request) -> web.Response:
        # `verbose` and `scope` only matter for swarm networks; every network is local.
        scope = request.query.get("scope")
        network = networks.inspect(request.match_info["id"])
        if scope and scope != "local":
            return json_response({"message": f"network {request.match_info['id']} not found"}, 404)
        return json_response(network)

    async def create(request: web.Request) -> web.Response:
        return json_response(await networks.create(await json_body(request)), 201)

    async def delete(request: web.Request) -> web.Response:
        await networks.remove(request.match_info["id"])
        return web.Response(status=204)

    async def prune(request: web.Request) -> web.Response:
        return json_response(await networks.prune(filters(request)))

    async def connect(request: web.Request) -> web.Response:
        await networks.connect(request.match_info["id"], await json_body(request))
        return web.Response(status=200)

    async def disconnect(request: web.Request) -> web.Response:
        await networks.disconnect(request.match_info["id"], await json_body(request))
        return web.Response(status=200)

    return [
        ("GET", "/networks", list_),
        ("POST", "/networks/create", create),
        ("POST", "/networks/prune", prune),
        ("GET", "/networks/{id}", inspect),
        ("DELETE", "/networks/{id}", delete),
        ("POST", "/networks/{id}/connect", connect),
        ("POST", "/networks/{id}/disconnect", disconnect),
    ]
