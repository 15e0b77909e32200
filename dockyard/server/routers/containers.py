# SPDX-License-Identifier: Apache-2.0
"""Container routes: create, list, inspect, start/stop/restart/kill, delete, wait, logs,
attach, resize."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard import runtime
from dockyard.errors import InvalidParameter
from dockyard.server import stdcopy
from dockyard.server.hijack import MULTIPLEXED_STREAM, RAW_STREAM, HijackedStream, hijack
from dockyard.server.params import boolean, filters, integer, json_body, json_response
from dockyard.units import parse_rfc3339

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q
# conmon's stream numbers on its attach socket → stdcopy's.
_ATTACH_STREAMS = {runtime.STDOUT: stdcopy.STDOUT, runtime.STDERR: stdcopy.STDERR}


def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    containers = daemon.containers

    async def create(request: web.Request) -> web.Response:
        body = await json_body(request)
        result = await containers.create(body, request.query.get("name") or None)
        return json_response(result, 201)

    async def list_(request: web.Request) -> web.Response:
        return json_response(containers.list(
            all=boolean(request, "all"), limit=integer(request, "limit"),
            size=boolean(request, "size"), filters=filters(request)))

    async def inspect(request: web.Request) -> web.Response:
        return json_response(containers.inspect(request.match_info["id"], boolean(request, "size")))

    async def start(request: web.Request) -> web.Response:
        await containers.start(request.match_info["id"])
        return web.Response(status=204)

    async def stop(request: web.Request) -> web.Response:
        await containers.stop(request.match_info["id"], integer(request, "t"), request.query.get("signal"))
        return web.Response(status=204)

    async def restart(request: web.Request) -> web.Response:
        await containers.restart(request.match_info["id"], integer(request, "t"), request.query.get("signal"))
        return web.Response(status=204)

    async def kill(request: web.Request) -> web.Response:
        await containers.kill(request.match_info["id"], request.query.get("signal"))
        return web.Response(status=204)

    async def delete(request: web.Request) -> web.Response:
        await containers.remove(request.match_info["id"], force=boolean(request, "force"),
                                volumes=boolean(request, "v"))
        return web.Response(status=204)

    async def wait(request: web.Request) -> web.StreamResponse:
        future = await containers.wait(request.match_info["id"], request.query.get("condition") or "not-running")
        # Headers go out at once: clients take them as proof the wait is registered.
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            result = await future
        except asyncio.CancelledError:
            future.cancel()
            raise
        await response.write(_dumps(result))
        await response.write_eof()
        return response

    async def logs(request: web.Request) -> web.StreamResponse:
        record = containers.get(request.match_info["id"])
        want_out, want_err = boolean(request, "stdout"), boolean(request, "stderr")
        if not (want_out or want_err):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        tty = bool(record["Config"].get("Tty"))
        timestamps = boolean(request, "timestamps")
        tail_text = request.query.get("tail", "all")
        tail = None if tail_text in ("", "all") else _int_param("tail", tail_text)
        response = web.StreamResponse(headers={"Content-Type": RAW_STREAM if tty else MULTIPLEXED_STREAM})
        await response.prepare(request)
        async for entry in containers.logs(record["Id"], follow=boolean(request, "follow"),
                                           since=_time_param(request, "since"),
                                           until=_time_param(request, "until"), tail=tail):
            if (entry.stream == "stdout" and not want_out) or (entry.stream == "stderr" and not want_err):
                continue
            data = entry.data
            if timestamps:
                data = entry.time.encode() + b" " + data
            await response.write(data if tty else stdcopy.frame(stdcopy.STREAM_NUMBERS[entry.stream], data))
        await response.write_eof()
        return response

    async def attach(request: web.Request) -> web.StreamResponse:
        record = containers.get(request.match_info["id"])
        config = record["Config"]
        tty = bool(config.get("Tty"))
        want = {stdcopy.STDOUT: boolean(request, "stdout"), stdcopy.STDERR: boolean(request, "stderr")}
        use_stdin = boolean(request, "stdin") and bool(config.get("OpenStdin"))
        detach_keys = _detach_keys(request.query.get("detachKeys"))
        response, client = await hijack(request, RAW_STREAM if tty else MULTIPLEXED_STREAM)
        if boolean(request, "logs"):
            async for entry in containers.logs(record["Id"], follow=False, since=None, until=None, tail=None):
                number = stdcopy.STREAM_NUMBERS[entry.stream]
                if want.get(number):
                    await client.write(entry.data if tty else stdcopy.frame(number, entry.data))
        if not boolean(request, "stream", True):
            return response
        connection = await containers.attach(record["Id"])
        detached = asyncio.Event()
        pump = asyncio.create_task(_pump_stdin(client, connection, detach_keys if tty else None,
                                               bool(config.get("StdinOnce")), detached)) if use_stdin else None
        try:
            async for conmon_number, data in _output(connection, detached):
                number = _ATTACH_STREAMS.get(conmon_number, stdcopy.STDOUT)
                if want.get(number) and not client.closed():
                    await client.write(data if tty else stdcopy.frame(number, data))
        except (ConnectionResetError, OSError):
            pass
        finally:
            if pump:
                pump.cancel()
                with contextlib.suppress(BaseException):
                    await pump
            connection.close()
        return response

    async def resize(request: web.Request) -> web.Response:
        await containers.resize(request.match_info["id"], integer(request, "h", 0) or 0, integer(request, "w", 0) or 0)
        return web.Response(status=200)

    cid = "/containers/{id}"
    return [
        ("POST", "/containers/create", create),
        ("GET", "/containers/json", list_),
        ("GET", cid + "/json", inspect),
        ("POST", cid + "/start", start),
        ("POST", cid + "/stop", stop),
        ("POST", cid + "/restart", restart),
        ("POST", cid + "/kill", kill),
        ("DELETE", cid, delete),
        ("POST", cid + "/wait", wait),
        ("GET", cid + "/logs", logs),
        ("POST", cid + "/attach", attach),
        ("POST", cid + "/resize", resize),
    ]


async def _output(connection: Any, detached: asyncio.Event) -> Any:
    """The container's output until it ends or the client detaches."""
    detach_wait = asyncio.create_task(detached.wait())
    try:
        while True:
            read = asyncio.create_task(connection.read())
            done, _ = await asyncio.wait({read, detach_wait}, return_when=asyncio.FIRST_COMPLETED)
            if read not in done:
                read.cancel()
                return
            item = read.result()
            if item is None:
                return
            yield item
    finally:
        detach_wait.cancel()


async def _pump_stdin(client: HijackedStream, connection: Any, detach_keys: bytes | None,
                      stdin_once: bool, detached: asyncio.Event) -> None:
    matched = b""
    while True:
        data = await client.read()
        if not data:
            if stdin_once:
                await connection.close_stdin()
            return
        if detach_keys:
            data, matched, hit = _scan_detach(matched + data, detach_keys)
            if hit:
                if data:
                    await connection.write_stdin(data)
                detached.set()
                return
        if data:
            await connection.write_stdin(data)


def _scan_detach(data: bytes, keys: bytes) -> tuple[bytes, bytes, bool]:
    """Split `data` into (bytes to forward, a held-back partial match, detach seen)."""
    index = data.find(keys)
    if index != -1:
        return data[:index], b"", True
    for size in range(min(len(keys) - 1, len(data)), 0, -1):
        if data.endswith(keys[:size]):
            return data[:-size], data[-size:], False
    return data, b"", False


def _detach_keys(spec: str | None) -> bytes:
    """Docker's detach-keys syntax: `ctrl-p,ctrl-q`, `a,ctrl-@`…"""
    if not spec:
        return DEFAULT_DETACH_KEYS
    keys = bytearray()
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("ctrl-") and len(part) == 6:
            char = part[5].lower()
            code = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}.get(char)
            if code is None and "a" <= char <= "z":
                code = ord(char) - ord("a") + 1
            if code is None:
                raise InvalidParameter(f"Invalid escape keys ({spec}) provided")
            keys.append(code)
        elif len(part) == 1:
            keys.append(ord(part))
        else:
            raise InvalidParameter(f"Invalid escape keys ({spec}) provided")
    return bytes(keys)


def _time_param(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if not value or value == "0":
        return None
    try:
        return float(value)
    except ValueError:
        try:
            return parse_rfc3339(value)
        except ValueError:
            raise InvalidParameter(f"invalid value for {name}: {value}") from None


def _int_param(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {value!r}") from None


def _dumps(data: Any) -> bytes:
    import json

    return json.dumps(data).encode() + b"\n"
