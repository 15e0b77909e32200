# SPDX-License-Identifier: Apache-2.0
"""Docker's stdcopy framing for non-TTY streams (attach, logs, exec).

Each frame is an 8-byte header — stream byte (0 stdin, 1 stdout, 2 stderr), three zero
bytes, big-endian uint32 payload length — followed by the payload. TTY streams are raw.
"""

from __future__ import annotations

import struct

STDIN, STDOUT, STDERR = 0, 1, 2
STREAM_NUMBERS = {"stdout": STDOUT, "stderr": STDERR}
_HEADER = struct.Struct(">BxxxI")


def frame(stream: int, data: bytes) -> bytes:
    """One stdcopy frame carrying `data` on `stream`."""
    return _HEADER.pack(stream, len(data)) + data
