# SPDX-License-Identifier: Apache-2.0
"""Docker's stdcopy framing of non-TTY attach and log streams, and its demultiplexer.

Each frame is an 8-byte header — the stream byte (0 stdin, 1 stdout, 2 stderr,
3 an error from the daemon), three zero bytes, a big-endian uint32 payload length —
followed by the payload. TTY streams are not framed: the terminal merges them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

STDIN = 0
STDOUT = 1
STDERR = 2
SYSTEMERR = 3

HEADER_SIZE = 8
_HEADER = struct.Struct(">BxxxL")


class FramingError(ValueError):
    """The stream is not stdcopy-framed (for example a TTY stream read as framed)."""


def frame(stream: int, payload: bytes) -> bytes:
    """One framed chunk, as the daemon writes it."""
    return _HEADER.pack(stream, len(payload)) + payload


class Demuxer:
    """Incremental demultiplexer: feed it bytes as they arrive, get whole frames back.

    Frames may be split anywhere across reads; a partial frame waits in the buffer.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames: list[tuple[int, bytes]] = []
        offset = 0
        buffer = self._buffer
        while len(buffer) - offset >= HEADER_SIZE:
            stream, length = _HEADER.unpack_from(buffer, offset)
            if stream > SYSTEMERR or buffer[offset + 1 : offset + 4] != b"\0\0\0":
                raise FramingError(f"unrecognized stream: {stream}")
            end = offset + HEADER_SIZE + length
            if len(buffer) < end:
                break
            frames.append((stream, bytes(buffer[offset + HEADER_SIZE : end])))
            offset = end
        del buffer[:offset]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered."""
        return len(self._buffer)


def demux(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(stream, payload) pairs from an iterable of raw chunks; a truncated tail is an error."""
    demuxer = Demuxer()
    for chunk in chunks:
        yield from demuxer.feed(chunk)
    if demuxer.pending:
        raise FramingError(f"stream ended inside a frame ({demuxer.pending} bytes left)")
