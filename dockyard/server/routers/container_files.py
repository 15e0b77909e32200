# SPDX-License-Identifier: Apache-2.0
"""Container filesystem routes: archive (HEAD stat, GET, PUT), export, changes, commit."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from aiohttp import web

from dockyard.daemon.filesystem import STAT_HEADER, ContainerFiles, encode_stat
from dockyard.errors import InvalidParameter
from dockyard.server.bridge import BodyReader, ResponseWriter
from dockyard.server.params import boolean, json_response

if TYPE_CHECKING:
    from dockyard.daemon.daemon import Daemon

log = logging.getLogger("dockyard.server")

TAR = "application/x-tar"
# A commit body is one container Config; anything this large is not one.
MAX_COMMIT_BODY = 1 << 20


def routes(daemon: Daemon) -> list[tuple[str, str, object]]:
    files = ContainerFiles(daemon.containers, daemon.images, daemon.events)

    async def stat_path(request: web.Request) -> web.Response:
        info = await files.stat(request.match_info["id"], _path(request))
        return web.Response(status=200, headers={STAT_HEADER: encode_stat(info)})

    async def get_archive(request: web.Request) -> web.StreamResponse:
        async with files.archive(request.match_info["id"], _path(request)) as (info, write):
            # The stat goes out in the headers, so errors before this point are plain JSON.
            response = web.StreamResponse(headers={"Content-Type": TAR, STAT_HEADER: encode_stat(info)})
            return await _stream(request, response, write)

    async def put_archive(request: web.Request) -> web.Response:
        await files.extract(request.match_info["id"], _path(request),
                            BodyReader(request.content, asyncio.get_running_loop()),
                            no_overwrite_dir_non_dir=boolean(request, "noOverwriteDirNonDir"),
                            copy_uid_gid=boolean(request, "copyUIDGID"))
        return web.Response(status=200)

    async def export(request: web.Request) -> web.StreamResponse:
        async with files.export(request.match_info["id"]) as write:
            return await _stream(request, web.StreamResponse(headers={"Content-Type": TAR}), write)

    async def changes(request: web.Request) -> web.Response:
        return json_response(await files.changes(request.match_info["id"]))

    async def commit(request: web.Request) -> web.Response:
        container = request.query.get("container", "")
        if not container:
            raise InvalidParameter('invalid name or ID supplied: ""')
        image_id = await files.commit(
            container, repo=request.query.get("repo") or None, tag=request.query.get("tag") or None,
            author=request.query.get("author", ""), comment=request.query.get("comment", ""),
            pause=boolean(request, "pause", True), changes=request.query.getall("changes", []),
            config=await _config_body(request))
        return json_response({"Id": image_id}, 201)

    archive = "/containers/{id}/archive"
    return [
        ("HEAD", archive, stat_path),
        ("GET", archive, get_archive),
        ("PUT", archive, put_archive),
        ("GET", "/containers/{id}/export", export),
        ("GET", "/containers/{id}/changes", changes),
        ("POST", "/commit", commit),
    ]


async def _stream(request: web.Request, response: web.StreamResponse,
                  write: Callable[[BinaryIO], None]) -> web.StreamResponse:
    """Send the tar `write` produces. After the 200 has gone out an error can only cut
    the stream short: the connection is closed so the client sees a broken transfer,
    not a tar that merely looks complete."""
    await response.prepare(request)
    try:
        await asyncio.to_thread(write, ResponseWriter(response, asyncio.get_running_loop()))
    except (ConnectionResetError, BrokenPipeError):
        return response  # the client went away
    except Exception:
        log.exception("%s %s: failed while streaming", request.method, request.path)
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


def _path(request: web.Request) -> str:
    path = request.query.get("path", "")
    if not path:
        raise InvalidParameter("path cannot be empty")
    return path


async def _config_body(request: web.Request) -> dict[str, Any] | None:
    """The optional Config of a commit request (absent, empty and `null` alike: none)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(1 << 16):
        size += len(chunk)
        if size > MAX_COMMIT_BODY:
            raise InvalidParameter("invalid JSON: commit config is too large")
        chunks.append(chunk)
    raw = b"".join(chunks).strip()
    if not raw:
        return None
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise InvalidParameter(f"invalid JSON: {e}") from None
    if body is None:
        return None
    if not isinstance(body, dict):
        raise InvalidParameter("invalid JSON: expected an object")
    return body or None
