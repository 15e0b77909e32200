# SPDX-License-Identifier: Apache-2.0
"""The Engine API's HTTP edge: the aiohttp application, its middleware and its listeners.

Every route is served both bare (`/containers/json`) and under a version prefix
(`/v1.45/containers/json`), as Docker does. The version is checked here and kept on the
request (`request[API_VERSION_KEY]`); the daemon below never sees versions. Typed errors map
to status codes in one place, `_errors`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard import API_VERSION, MIN_API_VERSION
from dockyard.errors import DockyardError
from dockyard.server.params import json_response
from dockyard.server.routers import (
    baseimages,
    build,
    container_files,
    containers,
    distribution,
    execs,
    images,
    networks,
    system,
    volumes,
)
from dockyard.server.security import Listeners, secure_socket

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon

log = logging.getLogger("dockyard.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_VERSION_PREFIX = "/{api_version:v[0-9]+\\.[0-9]+}"
# The API version a request asked for (handlers adapt old shapes with it).
API_VERSION_KEY: Any = web.RequestKey("api_version", str) if hasattr(web, "RequestKey") else "api_version"


def make_app(daemon: Daemon) -> web.Application:
    """The Engine API application serving `daemon`."""
    app = web.Application(middlewares=[_errors, _versions], client_max_size=0)
    for module in (system, containers, container_files, execs, distribution, images, volumes, networks,
                   build, baseimages):
        for method, path, handler in module.routes(daemon):
            app.router.add_route(method, path, handler)
            app.router.add_route(method, _VERSION_PREFIX + path, handler)
    return app


async def serve(daemon: Daemon, hosts: list[str],
                listeners: Listeners | None = None) -> web.AppRunner:
    """Start listening on every `unix://` and `tcp://` host; returns the runner to clean up.

    `listeners` (from `security.prepare`) gives the unix sockets' group and the TLS context
    of TCP listeners; without one, sockets stay root's and TCP is plain.
    """
    listeners = listeners or Listeners()
    # Open long polls (`wait`, `logs -f`, `events`) must not hold a shutdown for a minute:
    # containers keep running, and clients reconnect to the next daemon.
    runner = web.AppRunner(make_app(daemon), access_log=None, handle_signals=False,
                           shutdown_timeout=1.0)
    await runner.setup()
    for host in hosts:
        if host.startswith("unix://"):
            path = host[len("unix://"):]
            _remove_stale_socket(path)
            site: web.BaseSite = web.UnixSite(runner, path)
            await site.start()
            secure_socket(path, listeners.socket_gid)
        elif host.startswith("tcp://"):
            address = host[len("tcp://"):].rstrip("/")
            name, _, port = address.rpartition(":") if ":" in address else (address, "", "")
            default_port = 2376 if listeners.ssl_context else 2375
            site = web.TCPSite(runner, name.strip("[]") or "127.0.0.1", int(port or default_port),
                               ssl_context=listeners.ssl_context)
            await site.start()
        else:
            raise ValueError(f"unsupported host {host!r}: use unix:// or tcp://")
        log.info("API listening on %s%s", host,
                 " (TLS, client certificates required)" if host.startswith("tcp://")
                 and listeners.ssl_context else "")
    return runner


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@web.middleware
async def _versions(request: web.Request, handler: Handler) -> web.StreamResponse:
    requested = request.match_info.get("api_version")
    version = requested[1:] if requested else API_VERSION
    if requested:
        if version_tuple(version) > version_tuple(API_VERSION):
            return json_response({"message": f"client version {version} is too new. Maximum supported API version is {API_VERSION}"}, 400)
        if version_tuple(version) < version_tuple(MIN_API_VERSION):
            return json_response({"message": f"client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"}, 400)
    request[API_VERSION_KEY] = version
    response = await handler(request)
    if not response.prepared:
        response.headers.setdefault("Api-Version", API_VERSION)
    return response


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DockyardError as e:
        if e.status >= 500:
            log.error("%s %s: %s", request.method, request.path, e.message)
        if _response_started(request):
            # Too late for an error response: drop the connection, so the client sees the
            # stream cut short (aiohttp then skips the response below quietly).
            log.debug("%s %s: %s, after the response began", request.method, request.path, e.message)
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=e.status)
        return json_response({"message": e.message}, e.status)
    except web.HTTPNotFound:
        return json_response({"message": "page not found"}, 404)
    except web.HTTPMethodNotAllowed:
        return json_response({"message": f"method {request.method} not allowed for {request.path}"}, 405)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except ConnectionResetError:
        # The client went away mid-stream (e.g. a killed `logs -f`): nothing to answer.
        log.debug("%s %s: client disconnected", request.method, request.path)
        return web.Response(status=499)
    except Exception as e:  # our bug: log it fully, answer with one line
        log.exception("%s %s failed", request.method, request.path)
        if _response_started(request):
            raise
        return json_response({"message": f"internal error: {type(e).__name__}: {e}"}, 500)


def _response_started(request: web.Request) -> bool:
    """Whether a streaming response's bytes have gone out: an error can no longer be a
    response of its own then (it would land inside the stream as garbage)."""
    writer = getattr(request, "_payload_writer", None)
    return writer is not None and bool(
        getattr(writer, "output_size", 0) or getattr(writer, "_headers_written", False)
        or getattr(writer, "_headers_buf", None))


def _remove_stale_socket(path: str) -> None:
    import socket

    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody answers: a leftover from a daemon that died
    else:
        raise RuntimeError(f"another daemon is already listening on {path}")
    finally:
        probe.close()
