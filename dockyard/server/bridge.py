# SPDX-License-Identifier: Apache-2.0
"""File-like bridges between aiohttp's async streams and the blocking image code, which
runs in a worker thread: a request body read as a file, a response written as a file.
Bytes stream through; nothing is buffered whole."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import StreamReader, web


class BodyReader:
    """A blocking, read-only file over a request body, for use from a worker thread."""

    def __init__(self, content: StreamReader, loop: asyncio.AbstractEventLoop):
        self._content = content
        self._loop = loop

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            coro: Any = self._content.read()
        else:
            coro = self._read_up_to(size)  # file semantics: short only at EOF
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _read_up_to(self, size: int) -> bytes:
        chunks = []
        remaining = size
        while remaining > 0:
            chunk = await self._content.read(remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
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
