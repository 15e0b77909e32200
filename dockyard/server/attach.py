# SPDX-License-Identifier: Apache-2.0
"""Relaying a hijacked client connection to a container's (or exec's) attach connection:
output framed with stdcopy unless on a TTY, stdin forwarded, Docker's detach keys
(ctrl-p ctrl-q by default) honoured on TTYs."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from dockyard import runtime
from dockyard.errors import InvalidParameter
from dockyard.server import stdcopy
from dockyard.server.hijack import HijackedStream

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q
# conmon's stream numbers on its attach socket → stdcopy's.
_ATTACH_STREAMS = {runtime.STDOUT: stdcopy.STDOUT, runtime.STDERR: stdcopy.STDERR}


async def relay(client: HijackedStream, connection: Any, *, tty: bool, want: dict[int, bool],
                use_stdin: bool, detach_keys: bytes, close_stdin_at_eof: bool) -> None:
    """Copy until the container's side ends or the client detaches; `want` maps stdcopy
    stream numbers to whether the client asked for them."""
    detached = asyncio.Event()
    pump = asyncio.create_task(_pump_stdin(client, connection, detach_keys if tty else None,
                                           close_stdin_at_eof, detached)) if use_stdin else None
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


def parse_detach_keys(spec: str | None) -> bytes:
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
