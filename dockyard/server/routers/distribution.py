# SPDX-License-Identifier: Apache-2.0
"""Registry routes: pull (called from the images router), push, login (`/auth`), search,
`/distribution/{name}/json`, and image prune.

Transfers run in worker threads (distribution/pull.py, push.py); their progress messages
come back through a queue and go out as Docker's JSON progress stream. The response is
started only when the first message arrives, so an error found before any progress (an
unknown image, refused credentials) gets its proper HTTP status instead of a 200 stream.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.distribution import reference
from dockyard.distribution.credentials import auth_from_json, decode_header
from dockyard.errors import DockyardError, InvalidParameter, stream_error
from dockyard.server.params import filters, json_response
from dockyard.server.routers.images import publish_removals

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon

Emit = Callable[[dict[str, Any]], None]


def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    images = daemon.images

    async def push(request: web.Request) -> web.StreamResponse:
        from dockyard.distribution.push import push as push_image

        name = request.match_info["name"]
        tag = request.query.get("tag") or None
        ref = reference.parse(name)
        if tag:
            ref = ref.with_tag(tag)
        auth = decode_header(request.headers.get("X-Registry-Auth"))
        hosts = daemon.registry_hosts

        def job(emit: Emit) -> Any:
            return push_image(images, ref, hosts=hosts, auth=auth, emit=emit)

        response = await stream_job(request, job)
        daemon.events.publish("image", "push", ref.familiar())
        return response

    async def login(request: web.Request) -> web.Response:
        from dockyard.distribution.client import Registry

        body = await request.json()
        auth = auth_from_json(body if isinstance(body, dict) else {})
        domain = server_domain(auth.server)
        registry = Registry(domain, daemon.registry_hosts, auth)
        try:
            await asyncio.to_thread(registry.login)
        finally:
            registry.close()
        return json_response({"Status": "Login Succeeded", "IdentityToken": ""})

    async def search(request: web.Request) -> web.Response:
        from dockyard.distribution.client import Registry

        term = request.query.get("term", "")
        limit = int(request.query.get("limit") or 25)
        domain, query = split_search_term(term)
        auth = decode_header(request.headers.get("X-Registry-Auth"))
        registry = Registry(domain, daemon.registry_hosts, auth)
        path = "/v1/search?" + urllib.parse.urlencode({"q": query, "n": limit})
        try:
            doc, _ = await asyncio.to_thread(registry.get_json, path, "")
        finally:
            registry.close()
        results = [r for r in (doc or {}).get("results") or [] if isinstance(r, dict)]
        wanted = filters(request)
        out = []
        for r in results:
            if "is-official" in wanted and str(bool(r.get("is_official"))).lower() not in wanted["is-official"]:
                continue
            if "stars" in wanted and int(r.get("star_count") or 0) < max(int(s) for s in wanted["stars"]):
                continue
            out.append({"name": r.get("name", ""), "description": r.get("description") or "",
                        "star_count": int(r.get("star_count") or 0),
                        "is_official": bool(r.get("is_official")),
                        "is_automated": bool(r.get("is_automated"))})
        return json_response(out[:limit])

    async def distribution_inspect(request: web.Request) -> web.Response:
        from dockyard.distribution.client import Registry, pull_push
        from dockyard.distribution.pull import ACCEPT

        ref = reference.parse(request.match_info["name"]).with_default_tag()
        auth = decode_header(request.headers.get("X-Registry-Auth"))
        registry = Registry(ref.domain, daemon.registry_hosts, auth)

        def fetch() -> dict[str, Any]:
            import hashlib

            resp = registry.request("GET", f"/v2/{ref.path}/manifests/{ref.digest or ref.tag}",
                                    scope=pull_push(ref.path, False),
                                    headers={"Accept": ", ".join(ACCEPT)}, expect=(200,))
            doc = json.loads(resp.body)
            media_type = doc.get("mediaType") or resp.header("Content-Type")
            descriptor = {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(resp.body).hexdigest(),
                          "size": len(resp.body)}
            platforms = [m.get("platform") for m in doc.get("manifests") or [] if m.get("platform")]
            if not platforms and doc.get("config"):
                config = json.loads(registry.open_blob(ref.path, doc["config"]["digest"]).read(1 << 24) or b"{}")
                platforms = [{"architecture": config.get("architecture", ""), "os": config.get("os", "")}]
            return {"Descriptor": descriptor, "Platforms": platforms}

        try:
            return json_response(await asyncio.to_thread(fetch))
        finally:
            registry.close()

    async def prune(request: web.Request) -> web.Response:
        result = await asyncio.to_thread(images.prune, filters(request),
                                         containers_using=daemon.containers.in_use)
        publish_removals(daemon, result.get("ImagesDeleted") or [])
        daemon.events.publish("image", "prune", "", {"reclaimed": str(result.get("SpaceReclaimed", 0))})
        return json_response(result)

    return [
        ("POST", "/images/prune", prune),
        ("GET", "/images/search", search),
        ("POST", "/images/{name:.+}/push", push),
        ("POST", "/auth", login),
        ("GET", "/distribution/{name:.+}/json", distribution_inspect),
    ]


async def pull_response(daemon: Daemon, request: web.Request, ref: reference.Reference,
                        *, bootstrap: bool = False) -> web.StreamResponse:
    """`POST /images/create?fromImage=`: pull from the registry, or make the offline base
    image when no registry answers (see daemon/pulling.py)."""
    from dockyard.daemon import pulling

    def job(emit: Emit) -> Any:
        return pulling.pull(daemon, ref, emit=emit, auth=decode_header(request.headers.get("X-Registry-Auth")),
                            platform=request.query.get("platform") or None, bootstrap=bootstrap)

    response = await stream_job(request, job)
    daemon.events.publish("image", "pull", reference.familiar(ref.with_default_tag() if not ref.digest else ref),
                          {"name": reference.familiar_name(ref)})
    return response


async def stream_job(request: web.Request, job: Callable[[Emit], Any]) -> web.StreamResponse:
    """Run `job(emit)` in a thread, streaming what it emits as JSON lines."""
    loop = asyncio.get_running_loop()
    messages: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def emit(message: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(messages.put_nowait, message)

    def run() -> Any:
        try:
            return job(emit)
        finally:
            loop.call_soon_threadsafe(messages.put_nowait, None)

    task = asyncio.ensure_future(asyncio.to_thread(run))
    response: web.StreamResponse | None = None
    while True:
        message = await messages.get()
        if message is None:
            break
        if response is None:
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
        await response.write(json.dumps(message).encode() + b"\r\n")
    try:
        await task
    except DockyardError as e:
        if response is None:
            raise
        await response.write(json.dumps(stream_error(e)).encode() + b"\r\n")
    if response is None:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
    await response.write_eof()
    return response


def server_domain(server: str) -> str:
    """`docker login` server address → the registry domain (`https://index.docker.io/v1/` → docker.io)."""
    if not server:
        return "docker.io"
    host = server.split("://", 1)[-1].split("/", 1)[0]
    if host in ("index.docker.io", "registry-1.docker.io", "docker.io"):
        return "docker.io"
    if not reference.valid_domain(host):
        raise InvalidParameter(f"invalid registry address {server!r}")
    return host


def split_search_term(term: str) -> tuple[str, str]:
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", term
