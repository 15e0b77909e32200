# SPDX-License-Identifier: Apache-2.0
"""Hijacked connections: Docker's `Upgrade: tcp` turn of an HTTP request into a raw,
bidirectional byte stream (attach, exec start).

After the `101 UPGRADED` headers go out, the connection's transport is handed to a
protocol of our own: aiohttp's would close the connection when the client half-closes,
but the docker CLI half-closes when its stdin ends and still wants the container's
output. Bytes the client sent before the takeover (aiohttp keeps them as the upgraded
request's tail) are delivered first. A client that did not ask to upgrade gets a 200
streaming response, with its request body as stdin.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


class HijackedStream:
    """The client side of a hijacked connection: `read()` gives the bytes the client sent
    (b"" once it closed its writing side), `write()` sends to it."""

    def __init__(self, request: web.Request, response: web.StreamResponse, upgraded: bool):
        self._response = response
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._protocol: _RawProtocol | None = None
        if upgraded:
            transport = request.transport
            assert transport is not None
            tail = getattr(request.protocol, "_message_tail", b"")
            self._protocol = _RawProtocol(transport, self._queue)
            transport.set_protocol(self._protocol)
            if tail:
                self._queue.put_nowait(bytes(tail))
        else:
            self._body_task = asyncio.get_running_loop().create_task(self._pump_body(request))

    async def read(self) -> bytes:
        return await self._queue.get()

    async def write(self, data: bytes) -> None:
        if self._protocol is None:
            await self._response.write(data)
        else:
            await self._protocol.write(data)

    def closed(self) -> bool:
        return self._protocol is not None and self._protocol.lost

    async def _pump_body(self, request: web.Request) -> None:
        try:
            async for chunk in request.content.iter_any():
                self._queue.put_nowait(chunk)
        finally:
            self._queue.put_nowait(b"")


async def hijack(request: web.Request, content_type: str) -> tuple[web.StreamResponse, HijackedStream]:
    """Answer `101 UPGRADED` (or 200 for a client that did not ask to upgrade) and return the
    raw stream. The connection is closed once the handler returns."""
    upgraded = request.headers.get("Upgrade", "").lower() == "tcp"
    if upgraded:
        response = web.StreamResponse(status=101, reason="UPGRADED")
        response.headers["Connection"] = "Upgrade"
        response.headers["Upgrade"] = "tcp"
    else:
        response = web.StreamResponse(status=200)
    response.headers["Content-Type"] = content_type
    response.force_close()
    await response.prepare(request)  # a StreamResponse sends its headers right away
    return response, HijackedStream(request, response, upgraded)


class _RawProtocol(asyncio.Protocol):
    def __init__(self, transport: asyncio.BaseTransport, queue: asyncio.Queue[bytes]):
        self._transport = transport
        self._queue = queue
        self._can_write = asyncio.Event()
        self._can_write.set()
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self._queue.put_nowait(data)

    def eof_received(self) -> bool:
        self._queue.put_nowait(b"")
        return True  # keep our writing side open

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._can_write.set()
        self._queue.put_nowait(b"")

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    async def write(self, data: bytes) -> None:
        if self.lost:
            raise ConnectionResetError("client went away")
        self._transport.write(data)  # type: ignore[attr-defined]
        await self._can_write.wait()
