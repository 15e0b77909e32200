# SPDX-License-Identifier: Apache-2.0
"""dockyard's own routes for the offline base images (see dockyard.baseimages):
`GET /dockyard/base-images` lists the recipes, `POST /dockyard/base-images/bootstrap`
makes the named ones (all when none is named), streaming build output as JSON lines."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.baseimages import recipes
from dockyard.errors import DockyardError, stream_error
from dockyard.server.params import boolean, json_response

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon

log = logging.getLogger("dockyard.baseimages")
PARALLEL = 3


def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    bootstrapper = daemon.bootstrapper

    async def list_(request: web.Request) -> web.Response:
        def describe(recipe: recipes.Recipe) -> dict[str, Any]:
            return {"Name": recipe.name, "Kind": recipe.kind, "References": recipe.references,
                    "From": recipe.base, "Key": recipe.key[:16],
                    "Cached": bootstrapper.cache.has(recipe), "Image": bootstrapper.present(recipe) or ""}

        return json_response([await asyncio.to_thread(describe, r) for r in recipes.all_recipes()])

    async def bootstrap(request: web.Request) -> web.StreamResponse:
        wanted = [recipes.lookup(name) for name in request.query.getall("name", [])]  # 404 up front
        if not wanted:
            wanted = [r for r in recipes.all_recipes() if r.kind != "host"]
        rebuild = boolean(request, "nocache")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        messages: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        # Independent recipes build side by side (downloads overlap); shared bases are
        # made once (the bootstrapper locks per recipe). Output lines carry the recipe's
        # name when several are made.
        slots = asyncio.Semaphore(PARALLEL)

        async def make(recipe: recipes.Recipe) -> None:
            def emit(message: dict[str, Any]) -> None:
                if len(wanted) > 1 and "stream" in message:
                    message = {"stream": "".join(f"[{recipe.name}] {line}\n"
                                                 for line in message["stream"].splitlines())}
                messages.put_nowait(message)

            async with slots:
                image_id = await bootstrapper.ensure(recipe, emit, rebuild=rebuild)
            messages.put_nowait({"aux": {"ID": image_id, "Name": recipe.name, "References": recipe.references}})
            daemon.events.publish("image", "bootstrap", recipe.primary)

        async def run() -> None:
            try:
                await asyncio.gather(*(make(recipe) for recipe in wanted))
            except Exception as e:
                if not isinstance(e, DockyardError):  # our bug: logged in full
                    log.exception("bootstrap failed")
                messages.put_nowait(stream_error(e))
            finally:
                messages.put_nowait(None)

        task = asyncio.create_task(run())
        try:
            while (message := await messages.get()) is not None:
                await response.write(json.dumps(message).encode() + b"\r\n")
        finally:
            await task
        await response.write_eof()
        return response

    return [("GET", "/dockyard/base-images", list_),
            ("POST", "/dockyard/base-images/bootstrap", bootstrap)]
