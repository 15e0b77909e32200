# SPDX-License-Identifier: Apache-2.0
"""Hijacked connections: Docker's `Upgrade: tcp` turn of an HTTP request into a raw,
bidirectional byte stream (attach, exec start).

aiohttp parses `Upgrade: tcp` as an upgrade and then buffers the connection's further bytes
until a parser is installed on the protocol (the mechanism its WebSocket support uses). We
install `_RawStream`, which hands the client's bytes to a queue, and keep the transport open
when the client half-closes its side (the docker CLI does that when its stdin ends while it
still wants the container's output).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


class HijackedStream:
    """The client side of a hijacked connection: `read()` gives bytes the client sent
    (b"" once it closed its writing side), `write()` sends to it."""

    def __init__(self, request: web.Request, response: web.StreamResponse, upgraded: bool):
        self._request = request
        self._response = response
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.upgraded = upgraded
        if upgraded:
            protocol = request.protocol
            protocol.set_parser(_RawStream(self._queue))  # type: ignore[arg-type]

            def eof_received() -> bool:
                self._queue.put_nowait(b"")
                return True  # keep our writing side open

            protocol.eof_received = eof_received  # type: ignore[method-assign]
        else:
            asyncio.get_running_loop().create_task(self._pump_body())

    async def read(self) -> bytes:
        return await self._queue.get()

    async def write(self, data: bytes) -> None:
        await self._response.write(data)

    def closed(self) -> bool:
        transport = self._request.transport
        return transport is None or transport.is_closing()

    async def _pump_body(self) -> None:
        # Without an upgrade, stdin is whatever request body the client sent.
        try:
            async for chunk in self._request.content.iter_any():
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
    await response.prepare(request)
    return response, HijackedStream(request, response, upgraded)


class _RawStream:
    """A payload parser in aiohttp's sense: takes every byte after the upgrade."""

    def __init__(self, queue: asyncio.Queue[bytes]):
        self._queue = queue

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if data:
            self._queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._queue.put_nowait(b"")
