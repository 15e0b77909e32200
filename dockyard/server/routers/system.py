# SPDX-License-Identifier: Apache-2.0
"""System routes: `/_ping`, `/version`, `/info`, `/events`."""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING

from aiohttp import web

from dockyard import API_VERSION
from dockyard.daemon.daemon import EXPERIMENTAL
from dockyard.server.params import boolean, filters, json_response, number

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon


def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="OK", headers={
            "Api-Version": API_VERSION,
            "Builder-Version": "1",
            "Docker-Experimental": "true" if EXPERIMENTAL else "false",
            "Ostype": "linux",
            "Cache-Control": "no-cache, no-store, must-revalidate",
            "Pragma": "no-cache",
        })

    async def version(request: web.Request) -> web.Response:
        return json_response(daemon.version())

    async def info(request: web.Request) -> web.Response:
        return json_response(await daemon.info())

    async def events(request: web.Request) -> web.StreamResponse:
        since = number(request, "since")
        until = number(request, "until")
        wanted = filters(request)
        queue = daemon.events.subscribe()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            backlog = daemon.events.since(int(since * 1e9)) if since is not None else []
            for event in backlog:
                if _event_matches(event, wanted) and (until is None or event["time"] <= until):
                    await response.write(json.dumps(event).encode() + b"\n")
            while True:
                timeout = None if until is None else until - time.time()
                if timeout is not None and timeout <= 0:
                    break
                try:
                    event = await asyncio.wait_for(queue.get(), timeout)
                except TimeoutError:
                    break
                if _event_matches(event, wanted):
                    await response.write(json.dumps(event).encode() + b"\n")
        finally:
            daemon.events.unsubscribe(queue)
        return response

    async def fsck(request: web.Request) -> web.Response:
        """dockyard's own: check the store, repairing with `repair=1` (daemon/fsck.py)."""
        from dockyard.daemon.fsck import fsck as check

        return json_response(await check(daemon, repair=boolean(request, "repair"), quick=boolean(request, "quick")))

    async def df(request: web.Request) -> web.Response:
        return json_response(await daemon.disk_usage())

    return [
        ("GET", "/system/df", df),
        ("POST", "/dockyard/system/fsck", fsck),
        ("GET", "/_ping", ping),
        ("HEAD", "/_ping", ping),
        ("GET", "/version", version),
        ("GET", "/info", info),
        ("GET", "/events", events),
    ]


def _event_matches(event: dict, wanted: dict[str, list[str]]) -> bool:
    actor = event["Actor"]
    attributes = actor.get("Attributes") or {}
    for key, values in wanted.items():
        if not values:
            continue
        if key == "type":
            ok = event["Type"] in values
        elif key == "event":
            ok = event["Action"] in values or event["Action"].split(":")[0] in values
        elif key in ("container", "image", "network", "volume"):
            ok = event["Type"] == key and any(v in (actor["ID"], attributes.get("name")) or actor["ID"].startswith(v) for v in values)
        elif key == "label":
            ok = all(attributes.get(v.partition("=")[0]) == v.partition("=")[2] if "=" in v else v in attributes for v in values)
        else:
            ok = True
        if not ok:
            return False
    return True
