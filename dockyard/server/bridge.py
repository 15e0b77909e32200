# SPDX-License-Identifier: Apache-2.0
"""File-like bridges between aiohttp's async streams and the blocking image code, which
runs in a worker thread: a request body read as a file, a response written as a file.
Bytes stream through; nothing is buffered whole."""

from __future__ import annotations

import asyncio

from aiohttp import StreamReader, web


class BodyReader:
    """A blocking, read-only file over a request body, for use from a worker thread.

    Each hop to the event loop fetches whatever the connection has buffered, up to
    `CHUNK`, and keeps what the caller did not ask for: readers such as tarfile's stream
    mode ask for 10 KiB at a time, and a loop round trip per 10 KiB costs more than the
    bytes (a 50 MB build context took half a second in hops alone)."""

    CHUNK = 1 << 20

    def __init__(self, content: StreamReader, loop: asyncio.AbstractEventLoop):
        self._content = content
        self._loop = loop
        self._buffer = bytearray()
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            rest = asyncio.run_coroutine_threadsafe(self._content.read(), self._loop).result()
            data, self._buffer = bytes(self._buffer) + rest, bytearray()
            self._eof = True
            return data
        if len(self._buffer) < size and not self._eof:
            # file semantics: short only at EOF
            more = asyncio.run_coroutine_threadsafe(self._fill(size - len(self._buffer)), self._loop).result()
            self._buffer += more
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def _fill(self, wanted: int) -> bytes:
        chunks = []
        got = 0
        while got < wanted:
            chunk = await self._content.read(max(wanted - got, self.CHUNK))
            if not chunk:
                self._eof = True
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def readable(self) -> bool:
        return True


class ResponseWriter:
    """A blocking, write-only file over a prepared streaming response."""

    def __init__(self, response: web.StreamResponse, loop: asyncio.AbstractEventLoop):
        self._response = response
        self._loop = loop

    def write(self, data: bytes) -> int:
        if data:
            asyncio.run_coroutine_threadsafe(self._response.write(bytes(data)), self._loop).result()
        return len(data)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True
