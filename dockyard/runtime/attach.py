# SPDX-License-Identifier: Apache-2.0
"""A client of conmon's attach socket: the container's live stdio.

The socket is SOCK_SEQPACKET, so message boundaries hold. Each message conmon sends is
one read of the container's output prefixed by a byte naming the stream (1 stdin,
2 stdout, 3 stderr; a TTY's output all comes as 2). What we send is raw stdin, no prefix,
at most one conmon buffer (32 KiB) per message since a longer one would be truncated.
Shutting down our write side ends the container's stdin unless the container was created
to leave it open. conmon drops a client whose socket stays full, so read promptly.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from dockyard.runtime.failures import RuntimeFailure

STDIN, STDOUT, STDERR = 1, 2, 3

_SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes including the NUL
_RECV_SIZE = 65536
_SEND_CHUNK = 16384


class OutputStream:
    """Async iteration over `read()`: (stream number, bytes) until it returns None."""

    async def read(self) -> tuple[int, bytes] | None:
        raise NotImplementedError

    def __aiter__(self) -> OutputStream:
        return self

    async def __anext__(self) -> tuple[int, bytes]:
        item = await self.read()
        if item is None:
            raise StopAsyncIteration
        return item


class AttachConnection(OutputStream):
    """One attach session. Not safe for concurrent readers; one reader and one writer
    task may use it at the same time."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._stdin_closed = False

    async def read(self) -> tuple[int, bytes] | None:
        """The next (stream number, bytes) from the container, or None once conmon has
        closed the connection (the container exited) or after close()."""
        loop = asyncio.get_running_loop()
        while True:
            if self._sock.fileno() < 0:
                return None
            try:
                message = await loop.sock_recv(self._sock, _RECV_SIZE)
            except (ConnectionResetError, BrokenPipeError):
                return None
            except OSError:
                if self._sock.fileno() < 0:
                    return None
                raise
            if not message:
                return None
            if len(message) > 1:
                return message[0], message[1:]

    async def write_stdin(self, data: bytes) -> None:
        """Send `data` to the container's stdin (dropped by conmon if it has none)."""
        if self._stdin_closed:
            raise BrokenPipeError("stdin of this attach session is closed")
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        for start in range(0, len(view), _SEND_CHUNK):
            await loop.sock_sendall(self._sock, view[start:start + _SEND_CHUNK])

    async def close_stdin(self) -> None:
        """End our input: conmon closes the container's stdin (unless created with it
        left open). Output keeps flowing."""
        if self._stdin_closed or self._sock.fileno() < 0:
            return
        self._stdin_closed = True
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self._sock.close()

    @property
    def closed(self) -> bool:
        return self._sock.fileno() < 0


async def connect_attach(path: Path) -> AttachConnection:
    """Connect to the attach socket at `path` (any length: long paths go through the
    directory's /proc/self/fd entry, as conmon itself binds them)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    sock.setblocking(False)
    dirfd = -1
    try:
        address = os.fsencode(str(path))
        if len(address) > _SUN_PATH_MAX:
            dirfd = os.open(path.parent, os.O_PATH | os.O_CLOEXEC)
            address = os.fsencode(f"/proc/self/fd/{dirfd}/{path.name}")
        await asyncio.get_running_loop().sock_connect(sock, address)
    except FileNotFoundError:
        sock.close()
        raise RuntimeFailure("container is not running (no attach socket)") from None
    except ConnectionRefusedError:
        sock.close()
        raise RuntimeFailure("container is not running (attach socket closed)") from None
    except BaseException:
        sock.close()
        raise
    finally:
        if dirfd >= 0:
            os.close(dirfd)
    return AttachConnection(sock)
