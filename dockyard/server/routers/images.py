# SPDX-License-Identifier: Apache-2.0
"""Image routes: list, inspect, delete, tag, create (pull or import), load, save."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.distribution import reference
from dockyard.errors import InvalidParameter
from dockyard.server.bridge import BodyReader, ResponseWriter
from dockyard.server.params import boolean, filters, json_response

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon


def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    images = daemon.images

    async def list_(request: web.Request) -> web.Response:
        return json_response(await asyncio.to_thread(
            images.list, boolean(request, "all"), filters(request), boolean(request, "digests")))

    async def inspect(request: web.Request) -> web.Response:
        return json_response(await asyncio.to_thread(images.inspect, request.match_info["name"]))

    async def delete(request: web.Request) -> web.Response:
        image_id, _ = await asyncio.to_thread(images.resolve, request.match_info["name"])
        result = await asyncio.to_thread(
            images.remove, request.match_info["name"], force=boolean(request, "force"),
            prune=not boolean(request, "noprune"), containers_using=daemon.containers.in_use)
        publish_removals(daemon, result, image_id)
        return json_response(result)

    async def history(request: web.Request) -> web.Response:
        return json_response(await asyncio.to_thread(images.history, request.match_info["name"]))

    async def tag(request: web.Request) -> web.Response:
        repo = request.query.get("repo")
        if not repo:
            raise InvalidParameter("repository name must have at least one component")
        image_id, _ = await asyncio.to_thread(images.resolve, request.match_info["name"])
        named = await asyncio.to_thread(images.tag, request.match_info["name"], repo, request.query.get("tag") or None)
        daemon.events.publish("image", "tag", image_id, {"name": named})
        return web.Response(status=201)

    async def create(request: web.Request) -> web.StreamResponse:
        source = request.query.get("fromSrc")
        if source is not None:
            return await _import(request, source)
        name = request.query.get("fromImage")
        if not name:
            raise InvalidParameter("either fromImage or fromSrc must be set")
        return await _pull(request, name, request.query.get("tag") or None)

    async def _import(request: web.Request, source: str) -> web.StreamResponse:
        if source != "-":
            raise InvalidParameter(f"importing from {source!r}: only an uploaded tarball (fromSrc=-) is supported so far")
        loop = asyncio.get_running_loop()
        image_id = await asyncio.to_thread(
            images.import_image, BodyReader(request.content, loop),
            repo=request.query.get("repo") or None, tag=request.query.get("tag") or None,
            changes=request.query.getall("changes", []), message=request.query.get("message", ""))
        daemon.events.publish("image", "import", image_id)
        return json_response({"status": image_id})

    async def _pull(request: web.Request, name: str, tag: str | None) -> web.StreamResponse:
        from dockyard.server.routers.distribution import pull_response

        # `tag` may be a digest (the API's "tag or digest").
        ref = reference.parse(name if not tag else f"{name}@{tag.lstrip('@')}" if ":" in tag else f"{name}:{tag}")
        # `bootstrap` is dockyard's own (`pull --bootstrap`): see baseimages/bootstrap.py.
        return await pull_response(daemon, request, ref, bootstrap=boolean(request, "bootstrap"))

    async def load(request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        messages = await asyncio.to_thread(images.load, BodyReader(request.content, loop))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for message in messages:
            await response.write(_line({"stream": message + "\n"}))
        await response.write_eof()
        return response

    async def save_many(request: web.Request) -> web.StreamResponse:
        return await _save(request, request.query.getall("names", []))

    async def save_one(request: web.Request) -> web.StreamResponse:
        return await _save(request, [request.match_info["name"]])

    async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
        if not names:
            raise InvalidParameter("no image names given")
        for name in names:  # fail with a 404 before the 200 goes out
            await asyncio.to_thread(images.get, name)
        response = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
        await response.prepare(request)
        await asyncio.to_thread(images.save, names, ResponseWriter(response, asyncio.get_running_loop()))
        await response.write_eof()
        return response

    name = "/images/{name:.+}"
    return [
        ("GET", "/images/json", list_),
        ("POST", "/images/create", create),
        ("POST", "/images/load", load),
        ("GET", "/images/get", save_many),
        ("GET", name + "/json", inspect),
        ("GET", name + "/get", save_one),
        ("GET", name + "/history", history),
        ("POST", name + "/tag", tag),
        ("DELETE", name, delete),
    ]


def _line(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode() + b"\r\n"


def publish_removals(daemon: Daemon, result: list[dict[str, str]], image_id: str = "") -> None:
    """The `untag` and `delete` events of an rmi or prune result, as dockerd sends them:
    the image ID as actor and as `name` (an untag belongs to the image deleted next, or to
    `image_id`)."""
    for index, entry in enumerate(result):
        for action, ref in entry.items():
            if action == "Deleted":
                daemon.events.publish("image", "delete", ref, {"name": ref})
            else:
                owner = image_id or next((e["Deleted"] for e in result[index:] if "Deleted" in e), ref)
                daemon.events.publish("image", "untag", owner, {"name": owner})
