# SPDX-License-Identifier: Apache-2.0
"""Undoing a tar stream's compression, recognised by its first bytes (gzip, bzip2, xz;
zstd refused with a clear error), without reading ahead of what the caller reads.

Shared by layer unpacking, `load`, the build context (daemon and CLI): stdlib only, so
the CLI can use it without importing the daemon side.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
from typing import BinaryIO

from dockyard.errors import InvalidParameter

GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def decompressed(stream: BinaryIO, what: str = "archive") -> BinaryIO:
    """The stream itself if it is a plain tar, else a decompressing reader. `what` names
    the stream in the error for a compression that is not supported."""
    head = read_exactly(stream, 6)
    joined = Prefixed(head, stream)
    if head.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=joined, mode="rb")  # type: ignore[return-value]
    if head.startswith(BZIP2_MAGIC):
        return bz2.BZ2File(joined)  # type: ignore[return-value]
    if head.startswith(XZ_MAGIC):
        return lzma.LZMAFile(joined)  # type: ignore[return-value]
    if head.startswith(ZSTD_MAGIC):
        raise InvalidParameter(f"zstd-compressed {what}s are not supported")
    return joined  # type: ignore[return-value]


def read_exactly(stream: BinaryIO, n: int) -> bytes:
    """Up to `n` bytes: fewer only at the end of the stream."""
    chunks = []
    while n > 0:
        chunk = stream.read(n)
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def member_bytes(name: str, data: bytes, mode: int, tar_format: int) -> bytes:
    """One regular-file tar member (header and padded data), to open a tar stream with."""
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info.tobuf(format=tar_format) + data + b"\0" * ((-len(data)) % tarfile.BLOCKSIZE)


class Prefixed:
    """A stream with bytes already read from its front put back."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:n], self._head[n:]
            if len(data) < n:
                data += self._rest.read(n - len(data))
            return data
        return self._rest.read(n)

    def readable(self) -> bool:
        return True
