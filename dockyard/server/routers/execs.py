# SPDX-License-Identifier: Apache-2.0
"""Exec routes: create, start (hijacked, or detached), inspect, resize."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from dockyard.errors import InvalidParameter
from dockyard.server import stdcopy
from dockyard.server.attach import parse_detach_keys, relay
from dockyard.server.hijack import MULTIPLEXED_STREAM, RAW_STREAM, hijack
from dockyard.server.params import integer, json_body, json_response

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon


def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    execs = daemon.execs

    async def create(request: web.Request) -> web.Response:
        body = await json_body(request)
        return json_response({"Id": await execs.create(request.match_info["id"], body)}, 201)

    async def start(request: web.Request) -> web.StreamResponse:
        body = await json_body(request, required=False)
        instance = execs.get(request.match_info["id"])
        config = instance.config
        tty = bool(body["Tty"]) if body.get("Tty") is not None else bool(config.get("Tty"))
        if body.get("Detach"):
            await execs.start(instance.id, detach=True, tty=tty)
            return web.Response(status=200)
        execs.get(instance.id)  # 404 before the upgrade
        if instance.started:
            raise InvalidParameter(f"Error: Exec command {instance.id} has already run")
        response, client = await hijack(request, RAW_STREAM if tty else MULTIPLEXED_STREAM)
        try:
            session = await execs.start(instance.id, detach=False, tty=tty,
                                        console_size=body.get("ConsoleSize"))
        except InvalidParameter as e:
            # Docker reports a failed start inside the already-upgraded stream.
            message = (e.message + "\r\n").encode()
            await client.write(message if tty else stdcopy.frame(stdcopy.STDOUT, message))
            return response
        want = {stdcopy.STDOUT: bool(config.get("AttachStdout", True)),
                stdcopy.STDERR: bool(config.get("AttachStderr", True))}
        await relay(client, session.attach, tty=tty, want=want,
                    use_stdin=bool(config.get("AttachStdin")),
                    detach_keys=parse_detach_keys(config.get("DetachKeys")),
                    close_stdin_at_eof=True)
        # Output ends when the process does; the exit code must be in place before the
        # client asks for it (docker exec inspects right after the stream closes).
        await execs.wait(instance.id)
        return response

    async def inspect(request: web.Request) -> web.Response:
        return json_response(execs.get(request.match_info["id"]).inspect())

    async def resize(request: web.Request) -> web.Response:
        await execs.resize(request.match_info["id"], integer(request, "h", 0) or 0,
                           integer(request, "w", 0) or 0)
        return web.Response(status=200)

    return [
        ("POST", "/containers/{id}/exec", create),
        ("POST", "/exec/{id}/start", start),
        ("GET", "/exec/{id}/json", inspect),
        ("POST", "/exec/{id}/resize", resize),
    ]
