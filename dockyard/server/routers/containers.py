# SPDX-License-Identifier: Apache-2.0
"""Container routes: create, list, inspect, start/stop/restart/kill, delete, wait, logs,
attach, resize."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.errors import InvalidParameter
from dockyard.server import stdcopy
from dockyard.server.attach import parse_detach_keys, relay
from dockyard.server.hijack import MULTIPLEXED_STREAM, RAW_STREAM, hijack
from dockyard.server.params import boolean, filters, integer, json_body, json_response
from dockyard.units import parse_rfc3339

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon



def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    containers = daemon.containers

    async def create(request: web.Request) -> web.Response:
        body = await json_body(request)
        result = await containers.create(body, request.query.get("name") or None)
        return json_response(result, 201)

    async def list_(request: web.Request) -> web.Response:
        found = containers.list(all=boolean(request, "all"), limit=integer(request, "limit"),
                                filters=filters(request))
        if boolean(request, "size"):  # walks every rw layer: off the event loop
            found = await asyncio.to_thread(containers.add_sizes, found)
        return json_response(await asyncio.to_thread(containers.show_image_ids, found))

    async def inspect(request: web.Request) -> web.Response:
        if boolean(request, "size"):
            return json_response(await asyncio.to_thread(containers.inspect, request.match_info["id"], True))
        return json_response(containers.inspect(request.match_info["id"]))

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
        if not record["LogPath"]:  # --log-driver none; said before the stream starts
            raise InvalidParameter("configured logging driver does not support reading")
        if not (want_out or want_err):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        tty = bool(record["Config"].get("Tty"))
        timestamps = boolean(request, "timestamps")
        # As dockerd: anything but a non-negative number (all, -1, abc) is every line.
        tail_text = request.query.get("tail", "all")
        tail = int(tail_text) if tail_text.isdigit() else None
        # --details: each line after its attributes (none are kept here) and a space.
        details = boolean(request, "details")
        response = web.StreamResponse(headers={"Content-Type": RAW_STREAM if tty else MULTIPLEXED_STREAM})
        await response.prepare(request)
        wanted = {"stdout": want_out, "stderr": want_err}
        async for batch in containers.logs(record["Id"], follow=boolean(request, "follow"),
                                           since=_time_param(request, "since"),
                                           until=_time_param(request, "until"), tail=tail,
                                           with_time=timestamps):
            chunk = encode_log_batch(batch, wanted, tty=tty, timestamps=timestamps, details=details)
            if chunk:
                await response.write(chunk)
        await response.write_eof()
        return response

    async def attach(request: web.Request) -> web.StreamResponse:
        record = containers.get(request.match_info["id"])
        config = record["Config"]
        tty = bool(config.get("Tty"))
        want = {stdcopy.STDOUT: boolean(request, "stdout"), stdcopy.STDERR: boolean(request, "stderr")}
        use_stdin = boolean(request, "stdin") and bool(config.get("OpenStdin"))
        detach_keys = parse_detach_keys(request.query.get("detachKeys"))
        response, client = await hijack(request, RAW_STREAM if tty else MULTIPLEXED_STREAM)
        if boolean(request, "logs") and record["LogPath"]:
            wanted = {"stdout": want[stdcopy.STDOUT], "stderr": want[stdcopy.STDERR]}
            async for batch in containers.logs(record["Id"], follow=False, since=None, until=None,
                                               tail=None, with_time=False):
                chunk = encode_log_batch(batch, wanted, tty=tty, timestamps=False)
                if chunk:
                    await client.write(chunk)
        if not boolean(request, "stream", True):
            return response
        connection = await containers.attach(record["Id"])
        await relay(client, connection, tty=tty, want=want, use_stdin=use_stdin,
                    detach_keys=detach_keys, close_stdin_at_eof=bool(config.get("StdinOnce")))
        return response

    async def pause(request: web.Request) -> web.Response:
        await containers.pause(request.match_info["id"])
        return web.Response(status=204)

    async def unpause(request: web.Request) -> web.Response:
        await containers.unpause(request.match_info["id"])
        return web.Response(status=204)

    async def rename(request: web.Request) -> web.Response:
        await containers.rename(request.match_info["id"], request.query.get("name", ""))
        return web.Response(status=204)

    async def update(request: web.Request) -> web.Response:
        return json_response(await containers.update(request.match_info["id"], await json_body(request)))

    async def top(request: web.Request) -> web.Response:
        return json_response(await containers.top(request.match_info["id"], request.query.get("ps_args")))

    async def stats(request: web.Request) -> web.StreamResponse:
        stream = boolean(request, "stream", True) and not boolean(request, "one-shot")
        messages = containers.stats(request.match_info["id"], stream=stream)
        first = await anext(messages)  # a 404 still goes out as an error
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(_dumps(first))
        async for message in messages:
            await response.write(_dumps(message))
        await response.write_eof()
        return response

    async def prune(request: web.Request) -> web.Response:
        return json_response(await containers.prune(filters(request)))

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
        ("POST", cid + "/pause", pause),
        ("POST", cid + "/unpause", unpause),
        ("POST", cid + "/rename", rename),
        ("POST", cid + "/update", update),
        ("GET", cid + "/top", top),
        ("GET", cid + "/stats", stats),
        ("POST", "/containers/prune", prune),
    ]


def encode_log_batch(batch: list[Any], wanted: dict[str, bool], *, tty: bool, timestamps: bool,
                     details: bool = False) -> bytes:
    """Log records as the bytes of a logs/attach stream: raw on a TTY, else stdcopy frames,
    one frame per run of lines on the same stream (clients split lines themselves)."""
    parts: list[bytes] = []
    run: list[bytes] = []
    run_stream = ""
    for entry in batch:
        if not wanted.get(entry.stream):
            continue
        if entry.stream != run_stream and run:
            parts.append(b"".join(run) if tty else stdcopy.frame(stdcopy.STREAM_NUMBERS[run_stream], b"".join(run)))
            run = []
        run_stream = entry.stream
        data = b" " + entry.data if details else entry.data
        run.append(entry.time.encode() + b" " + data if timestamps else data)
    if run:
        parts.append(b"".join(run) if tty else stdcopy.frame(stdcopy.STREAM_NUMBERS[run_stream], b"".join(run)))
    return b"".join(parts)


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



def _dumps(data: Any) -> bytes:
    import json

    return json.dumps(data).encode() + b"\n"
